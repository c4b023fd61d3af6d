using System.Globalization;
using System.Text.Json.Nodes;
using Offload.Functions.Names;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// Asynchronous serving as the Dapr deployment runs it, every app a process of its own behind its
/// own sidecar stand-in: <c>offload serve --mode async --aggregator dapr</c> (the gateway),
/// <c>offload serve --dapr</c> (the aggregator functions), <c>offload serve --dapr --corrector inversion</c>
/// (the corrector app) and device processes, one of them slow. The slow device's stale updates reach
/// the corrector app as events and come back corrected or weighted; only the corrector loads libtorch.
/// </summary>
public sealed class DaprAsyncServeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-dapr-async-").FullName;
    private readonly OffloadProcesses _processes = new();

    public void Dispose()
    {
        _processes.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static (string, string)[] Endpoints(Tests.Sidecar.SidecarStandIn sidecar) =>
        [("DAPR_GRPC_ENDPOINT", sidecar.GrpcEndpoint), ("DAPR_HTTP_ENDPOINT", sidecar.HttpEndpoint)];

    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);

    // kill -9 of the corrector app once a stale update was sent its way, and a fresh instance in its
    // place: the run checks everything a run without the kill does, so only this case runs (each
    // takes about a minute and a half of the suite). Pass false to check a run without a kill.
    [Theory]
    [InlineData(true)]
    public async Task A_slow_devices_stale_updates_go_through_the_corrector_app_and_every_version_takes_K_arrivals(bool killCorrector)
    {
        const int Versions = 10, K = 2;
        await using var cluster = Tests.Sidecar.DaprCluster.FromComponents();
        var gatewaySidecar = await cluster.StartSidecarAsync(DaprNames.GatewayAppId);
        var functionsSidecar = await cluster.StartSidecarAsync(DaprNames.FunctionsAppId);
        var correctorSidecar = await cluster.StartSidecarAsync(DaprNames.CorrectorAppId);
        int port = DaprDeploymentTests.FreePort(), appPort = DaprDeploymentTests.FreePort(), functionsPort = DaprDeploymentTests.FreePort(), correctorPort = DaprDeploymentTests.FreePort();
        gatewaySidecar.App = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{N(appPort)}") };
        functionsSidecar.App = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{N(functionsPort)}") };
        correctorSidecar.App = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{N(correctorPort)}") };
        string output = Path.Combine(_directory, "out");

        var functions = _processes.Start(["serve", "--dapr", "--port", N(functionsPort)], Endpoints(functionsSidecar));
        var corrector = _processes.Start(["serve", "--dapr", "--corrector", "inversion", "--port", N(correctorPort), "--inversion-samples", "1333",
            "--data", "bundled", "--hidden", "8"], Endpoints(correctorSidecar));
        var serve = _processes.Start(["serve", "--mode", "async", "--aggregator", "dapr", "--port", N(port), "--app-port", N(appPort),
            "--rounds", N(Versions), "--buffer", N(K), "--corrector", "inversion", "--data", "bundled", "--hidden", "8", "--linger", "8",
            "--token", "fast-0=async-token-0", "--token", "fast-1=async-token-1", "--token", "slow-2=async-token-2", "--out", output], Endpoints(gatewaySidecar));
        cluster.StartDelivering();
        var devices = Enumerable.Range(0, 3).Select(i => _processes.Start(["client", "--server", $"http://127.0.0.1:{N(port)}", "--token", $"async-token-{i}",
            "--partition", $"{i}/3", "--data", "bundled", "--hidden", "8", .. (i == 2 ? new[] { "--slowdown", "2", "--upload-delay", "2" } : [])])).ToArray();

        if (killCorrector)
        {
            // Whenever the kill lands (before the delivery, mid-inversion, after the corrected update was stored),
            // the event is delivered again to the new instance, and the round's actor counts the update once.
            var limit = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (!cluster.Published.Any(p => p.Topic == DaprNames.StaleUpdateTopic) && DateTime.UtcNow < limit) await Task.Delay(20);
            corrector.Process.Kill(entireProcessTree: true);
            await corrector.Process.WaitForExitAsync();
            corrector = _processes.Start(["serve", "--dapr", "--corrector", "inversion", "--port", N(correctorPort), "--inversion-samples", "1333",
                "--data", "bundled", "--hidden", "8"], Endpoints(correctorSidecar));
        }
        var ended = await Task.WhenAll(devices.Select(d => d.ExitAsync(TimeSpan.FromMinutes(4))));
        Assert.All(ended, d => Assert.True(d.ExitCode == 0, $"device exited {d.ExitCode}: {d.Err}\n{d.Out}"));
        var (exit, stdout, stderr) = await serve.ExitAsync(TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, $"serve exited {exit}: {stderr}\n{stdout}\nunmatched sidecar calls: {string.Join(", ", cluster.Unmatched)}");
        Assert.Contains("by the Dapr aggregator functions", stdout);

        // TorchSharp's native library is mapped in the corrector app only (the gateway evaluates models with it too; the functions never).
        Assert.False(MapsLibtorch(functions.Process.Id), "the aggregator functions loaded libtorch");
        Assert.True(MapsLibtorch(corrector.Process.Id), "the corrector app should run the inversion with libtorch");
        Signals.Send(corrector.Process.Id, Signals.Terminate);
        var (correctorExit, correctorOut, correctorErr) = await corrector.ExitAsync(TimeSpan.FromMinutes(1));
        Assert.True(correctorExit == 0, $"the corrector exited {correctorExit}: {correctorErr}\n{correctorOut}");
        Assert.Contains($"Corrector (Dapr app '{DaprNames.CorrectorAppId}', inversion", correctorOut);

        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "summary.json")))!;
        Assert.Equal(("async", "dapr"), (summary["configuration"]!["mode"]!.GetValue<string>(), summary["configuration"]!["aggregator"]!.GetValue<string>()));
        Assert.Equal(Versions, summary["rounds"]!.GetValue<int>());
        Assert.Equal(Versions * K, summary["updates"]!.GetValue<int>());
        var rounds = File.ReadAllLines(Path.Combine(output, "rounds.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.All(rounds, r => Assert.Equal($"{K}", r[4]));

        var asynchronous = summary["asynchronous"]!;
        var outcomes = asynchronous["outcomes"]!.AsObject();
        Assert.Equal(Versions * K, outcomes.Sum(o => o.Value!.GetValue<long>()));
        // Which device's updates are stale depends on timing (while the killed corrector restarts, no
        // version closes, and an update that arrives then is fresh); that some are, does not: the
        // corrector was killed only once a stale update had gone its way.
        var perDevice = asynchronous["devices"]!.AsArray();
        long stale = perDevice.Sum(d => d!["stale"]!.GetValue<long>());
        Assert.True(stale >= 1, $"the devices' updates: {perDevice.ToJsonString()}");
        // With --correct-from 1 every stale update went to the corrector app: replaced by the inversion, or, failing its gate, weighted by the fall-back.
        Assert.All(perDevice, d => Assert.Equal(d!["stale"]!.GetValue<long>(), d["corrected"]!.GetValue<long>() + d["fell_back"]!.GetValue<long>()));
        var published = cluster.Published.ToArray();
        Assert.True(published.Count(p => p.Topic == DaprNames.StaleUpdateTopic) >= stale);
        // One report per stale update; a correction the kill cut short is reported by the instance that redid it.
        Assert.True(published.Count(p => p.Topic == DaprNames.CorrectionReportedTopic) >= published.Count(p => p.Topic == DaprNames.StaleUpdateTopic));
        Assert.Empty(cluster.Unmatched);
        Assert.All(cluster.DeliveryErrors, e => Assert.IsType<HttpRequestException>(e)); // Only apps not listening yet, or gone.
    }

    private static bool MapsLibtorch(int pid) =>
        File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/maps").Any(l => l.Contains("libtorch", StringComparison.Ordinal));
}
