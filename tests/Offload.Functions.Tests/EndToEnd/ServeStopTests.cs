using System.Text.Json.Nodes;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// <c>offload serve</c> stopped by SIGTERM (what Kubernetes sends) or SIGINT (Ctrl+C) mid-federation:
/// it drains, writes its summary and exits 0, instead of serving on until it is killed.
/// </summary>
public sealed class ServeStopTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-stop-").FullName;
    private readonly OffloadProcesses _processes = new();

    public void Dispose()
    {
        _processes.Dispose();
        Directory.Delete(_directory, recursive: true);
    }


    [Theory]
    [InlineData(15)] // SIGTERM
    [InlineData(2)] // SIGINT
    public async Task A_signal_drains_the_gateway_writes_the_summary_and_exits_zero(int signal)
    {
        int port = DaprDeploymentTests.FreePort();
        string output = Path.Combine(_directory, "out");
        Signals.DeliverInterruptsToChildren();
        var serve = _processes.Start(["serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--rounds", "5", "--min-clients", "2",
            "--data", "bundled", "--hidden", "8", "--token", "device-0=stop-token-0", "--state", Path.Combine(_directory, "state"), "--out", output]);
        // Once the gateway answers, it is serving: a device's GetStatus reaches it.
        using (var client = new Client.Federation.FederatedClientBuilder(new Uri($"http://127.0.0.1:{port}")).WithToken("stop-token-0")
            .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromMilliseconds(500), MaxAttempts = 200 }).Build())
            Assert.Equal(1, (await client.GetStatusAsync()).Round);

        Signals.Send(serve.Process.Id, signal);
        var (exit, stdout, stderr) = await serve.ExitAsync(TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"serve exited {exit}: {stderr}");
        Assert.Contains("Stopping: draining uploads in flight", stdout);
        Assert.Contains("Stopped: 0 rounds", stdout);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "summary.json")))!;
        Assert.True(summary["configuration"]!["stopped_by_signal"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_journal_that_cannot_keep_an_update_stops_serve_with_an_error_naming_the_state_directory()
    {
        int port = DaprDeploymentTests.FreePort();
        string state = Path.Combine(_directory, "state");
        var serve = _processes.Start(["serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--rounds", "3", "--min-clients", "1",
            "--data", "bundled", "--hidden", "8", "--token", "device-0=journal-token-0", "--state", state, "--out", Path.Combine(_directory, "out")]);
        using (var client = new Client.Federation.FederatedClientBuilder(new Uri($"http://127.0.0.1:{port}")).WithToken("journal-token-0")
            .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromMilliseconds(500), MaxAttempts = 200 }).Build())
            Assert.Equal(1, (await client.GetStatusAsync()).Round);
        // The payload folder becomes a file: the first acknowledged update cannot be kept, as on a full disk.
        string payloads = Path.Combine(state, Aggregator.Journal.SqliteFederationJournal.PayloadFolder);
        Directory.Delete(payloads);
        File.WriteAllText(payloads, "not a folder");
        _processes.Start(["client", "--server", $"http://127.0.0.1:{port}", "--token", "journal-token-0", "--partition", "0/1", "--data", "bundled", "--hidden", "8"]);

        // The rounds stop and serve ends, rather than answering UNAVAILABLE for ever.
        var (exit, _, stderr) = await serve.ExitAsync(TimeSpan.FromMinutes(2));
        Assert.NotEqual(0, exit);
        Assert.Contains($"--state {state}", stderr);
        Assert.Contains("Nothing acknowledged is lost", stderr);
    }
}
