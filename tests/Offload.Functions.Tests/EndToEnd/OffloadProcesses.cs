using System.Diagnostics;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// `offload` commands run as processes of their own (the CLI built beside the tests), their output
/// captured from the start; disposing kills whatever is still running.
/// </summary>
internal sealed class OffloadProcesses : IDisposable
{
    private readonly List<Process> _started = [];

    /// <summary>Starts <c>offload</c> with <paramref name="arguments"/> and extra environment variables.</summary>
    public Running Start(IEnumerable<string> arguments, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "offload.dll"));
        foreach (string a in arguments) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var process = Process.Start(start)!;
        lock (_started) _started.Add(process);
        return new Running(process, process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
    }

    public void Dispose()
    {
        lock (_started)
        {
            foreach (var p in _started)
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
                p.Dispose();
            }
            _started.Clear();
        }
    }

    /// <summary>A started command and its output so far.</summary>
    internal sealed record Running(Process Process, Task<string> Out, Task<string> Err)
    {
        /// <summary>Waits for the command to end (at most <paramref name="timeout"/>); its exit code and whole output.</summary>
        public async Task<(int ExitCode, string Out, string Err)> ExitAsync(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            await Process.WaitForExitAsync(cancel.Token);
            return (Process.ExitCode, await Out, await Err);
        }
    }
}
