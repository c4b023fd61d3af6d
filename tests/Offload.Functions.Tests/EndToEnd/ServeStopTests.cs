using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// <c>offload serve</c> stopped by SIGTERM (what Kubernetes sends) or SIGINT (Ctrl+C) mid-federation:
/// it drains, writes its summary and exits 0, instead of serving on until it is killed.
/// </summary>
public sealed partial class ServeStopTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-stop-").FullName;
    private readonly OffloadProcesses _processes = new();

    public void Dispose()
    {
        _processes.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [Theory]
    [InlineData(15)] // SIGTERM
    [InlineData(2)] // SIGINT
    public async Task A_signal_drains_the_gateway_writes_the_summary_and_exits_zero(int signal)
    {
        int port = DaprDeploymentTests.FreePort();
        string output = Path.Combine(_directory, "out");
        var serve = _processes.Start(["serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--rounds", "5", "--min-clients", "2",
            "--data", "bundled", "--hidden", "8", "--token", "device-0=stop-token-0", "--state", Path.Combine(_directory, "state"), "--out", output]);
        // Once the gateway answers, it is serving: a device's GetStatus reaches it.
        using (var client = new Client.Federation.FederatedClientBuilder(new Uri($"http://127.0.0.1:{port}")).WithToken("stop-token-0")
            .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromMilliseconds(500), MaxAttempts = 200 }).Build())
            Assert.Equal(1, (await client.GetStatusAsync()).Round);

        Assert.Equal(0, Kill(serve.Process.Id, signal));
        var (exit, stdout, stderr) = await serve.ExitAsync(TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"serve exited {exit}: {stderr}");
        Assert.Contains("Stopping: draining uploads in flight", stdout);
        Assert.Contains("Stopped: 0 rounds", stdout);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "summary.json")))!;
        Assert.True(summary["configuration"]!["stopped_by_signal"]!.GetValue<bool>());
    }
}
