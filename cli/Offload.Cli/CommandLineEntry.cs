using System.CommandLine;
using Offload.Core.Data;

namespace Offload.Cli;

/// <summary>Parses, reports user errors in one line with exit code 2, and runs the chosen command.</summary>
public static class CommandLineEntry
{
    /// <summary>Exit code for a user error: a bad option or missing input.</summary>
    public const int UsageError = 2;

    /// <summary>
    /// How long a command has to stop after SIGTERM or SIGINT cancels its token before the process exits
    /// anyway (with 143 or 130). System.CommandLine's default of 2 s is shorter than a device needs to
    /// finish its training batch or a server to drain.
    /// </summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Runs <paramref name="root"/> on <paramref name="args"/> and returns the exit code.</summary>
    public static int Run(RootCommand root, string[] args, TextWriter? error = null)
    {
        error ??= Console.Error;
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine($"offload: {parsed.Errors[0].Message} (see --help)");
            return UsageError;
        }
        try
        {
            // The default handler would print a stack trace and return 1; user errors are ours to report.
            // An asynchronous action's token is cancelled on SIGTERM and SIGINT (PosixSignalRegistration);
            // the command decides what a clean stop prints and returns.
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = StopTimeout });
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"offload: {e.Message}");
            return UsageError;
        }
    }

    private static bool IsUserError(Exception e) =>
        e is InvalidOptionException or DatasetNotFoundException or DatasetFormatException;
}
