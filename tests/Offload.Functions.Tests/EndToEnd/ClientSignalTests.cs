using System.Diagnostics;
using System.Runtime.InteropServices;
using Offload.Aggregator.Rounds;
using Offload.Client.Training;
using Offload.Core.Federation;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// `offload client` as a real process, signalled while it trains: it must stop at its next safe point,
/// print its summary and exit 0, where it used to die with an OperationCanceledException's stack trace.
/// </summary>
public partial class ClientSignalTests
{
    private const int SigInt = 2;
    private const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [Theory]
    [InlineData(SigTerm)]
    [InlineData(SigInt)]
    public async Task A_signal_mid_training_stops_the_client_with_its_summary_and_exit_code_0(int signal)
    {
        var data = ReferenceTraining.Data();
        using var initial = TorchTrainer.CreateDefault(7, data.Train.Rows, data.Train.Columns, data.Train.ClassCount);
        var weights = new float[initial.Layout.TotalLength];
        initial.ExportWeights(weights);
        // A round far longer than any test: the signal can only find the client training.
        var rounds = new RoundOptions { MinClients = 1, Rounds = 1, RoundDeadline = TimeSpan.FromHours(1), Plan = new TrainingOptions(10_000, 10, 0.01) };
        await using var federation = await TestFederation.StartAsync(initial.Layout, weights, rounds, clients: 1);

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "offload.dll"), "client", "--server", federation.Server.Address.ToString(),
            "--token", TestFederation.TokenOf(0), "--partition", "0/1", "--data", "bundled", "--seed", "7" })
            start.ArgumentList.Add(a);
        using var process = new Process { StartInfo = start };
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var training = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            output.Enqueue(e.Data);
            if (e.Data.EndsWith("round 1: training.", StringComparison.Ordinal)) training.TrySetResult();
        };
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) errors.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await training.Task.WaitAsync(TimeSpan.FromMinutes(3));
            Assert.Equal(0, Kill(process.Id, signal));
            using var exit = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await process.WaitForExitAsync(exit.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }

        string all = string.Join('\n', output) + "\n" + string.Join('\n', errors);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}:\n{all}");
        Assert.Contains("client 0/1: stopped by signal after 0 rounds.", output);
        Assert.DoesNotContain("   at ", all);
        Assert.Equal(0, federation.Server.Metrics.Accepted);
    }
}
