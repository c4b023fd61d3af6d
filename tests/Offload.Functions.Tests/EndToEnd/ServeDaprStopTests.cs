using System.Text;
using Offload.Functions.Names;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// `offload serve --dapr` as a process of its own, stopped by a signal as Kubernetes (SIGTERM) or a
/// terminal (SIGINT) stops it: it drains, prints its summary and exits 0. Before the fix the embedded
/// web host's console lifetime took the signal, the command never heard of it, and the process stayed up.
/// </summary>
public sealed class ServeDaprStopTests
{
    private const int SigInt = Signals.Interrupt;
    private const int SigTerm = Signals.Terminate;

    [Theory]
    [InlineData(SigTerm)]
    [InlineData(SigInt)]
    public async Task Serve_dapr_drains_and_exits_zero_with_its_summary_on_a_stop_signal(int signal)
    {
        int port = DaprDeploymentTests.FreePort();
        using var processes = new OffloadProcesses();
        Signals.DeliverInterruptsToChildren();
        var functions = processes.Start(["serve", "--dapr", "--host", "127.0.0.1", "--port", $"{port}"]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        await UntilListeningAsync(http, functions);

        // One malformed event, answered before any sidecar call, so the summary has something to count.
        var forged = """{"reference":"model/v0","clientId":"c0","taskId":"t1","round":1,"baseVersion":0,"sampleCount":1,"payloadBytes":64,"node":"n"}""";
        var answer = await http.PostAsync(DaprNames.UpdateArrivedRoute, new StringContent(forged, Encoding.UTF8, "application/json"));
        Assert.Contains("DROP", await answer.Content.ReadAsStringAsync());

        Signals.Send(functions.Process.Id, signal);
        // Long enough for a loaded machine: the test asserts that it exits, not how fast.
        var (exitCode, output, error) = await functions.ExitAsync(TimeSpan.FromMinutes(3));
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{output}\n{error}");
        Assert.Contains("Stopped: 0 events SUCCESS, 0 RETRY, 1 DROP; 0 turned away (RETRY) while draining; every delivery in flight finished", output);
    }

    /// <summary>Waits until the app answers the sidecar's discovery call (or the process ends, which fails the test).</summary>
    private static async Task UntilListeningAsync(HttpClient http, OffloadProcesses.Running process)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        while (true)
        {
            if (process.Process.HasExited) Assert.Fail($"offload serve --dapr exited early: {await process.Err}");
            try
            {
                if ((await http.GetAsync("/dapr/subscribe", limit.Token)).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(100, limit.Token);
        }
    }
}
