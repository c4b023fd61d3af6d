using Offload.Cli.Commands;

namespace Offload.Cli.Tests.Benchmarks;

/// <summary>Runs <c>offload bench ...</c> in this process, as the command line would, with its error stream captured.</summary>
internal static class BenchCommandLine
{
    public static (int Code, string Error) Run(params string[] args)
    {
        var root = new System.CommandLine.RootCommand();
        root.Subcommands.Add(BenchCommand.Create());
        var error = new StringWriter();
        return (CommandLineEntry.Run(root, args, error), error.ToString());
    }
}
