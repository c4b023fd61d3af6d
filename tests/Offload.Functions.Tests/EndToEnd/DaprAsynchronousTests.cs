using Dapr.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Asynchronous;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Staleness;
using Offload.Aggregator.Storage;
using Offload.Client.Federation;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Functions.Hosting;
using Offload.Functions.Names;
using Offload.Functions.Storage;
using Offload.Gateway.Authentication;
using Offload.Gateway.Hosting;
using Offload.Gateway.Service;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// Asynchronous serving on Dapr: the gateway (<see cref="DaprGateway.StartAsynchronousAsync"/>, real
/// gRPC on loopback), the aggregator functions and the corrector app, each behind its own sidecar
/// stand-in in one cluster over dapr-components/. A stale device's update goes to the corrector app,
/// comes back corrected, and the model is the one the in-process asynchronous coordinator builds from
/// the same uploads.
/// </summary>
public sealed class DaprAsynchronousTests
{
    private const int Parameters = 64;
    private const int Devices = 4;

    private static readonly AsynchronousOptions Settings = new()
    {
        BufferSize = 2,
        Versions = 3,
        CorrectFrom = 2,
        MaxStaleness = 2,
        WaitRetry = TimeSpan.FromMilliseconds(20),
    };

    [Fact]
    public async Task A_stale_update_is_corrected_by_the_corrector_app_and_the_model_equals_the_in_process_runs()
    {
        var layout = TestFederation.FlatLayout(Parameters);
        var initial = Enumerable.Range(0, Parameters).Select(i => 0.01f * i).ToArray();

        await using var cluster = Sidecar.DaprCluster.FromComponents();
        await using var functions = await FunctionsApp.StartAsync(actorHost: false, cluster: cluster);
        await using var corrector = await StartCorrectorAsync(cluster, layout);
        int appPort = DaprDeploymentTests.FreePort();
        var sidecar = await cluster.StartSidecarAsync(DaprNames.GatewayAppId);
        sidecar.App = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{appPort}") };
        cluster.StartDelivering();
        var poly = new PolynomialStalenessWeighting(0.5);
        await using var gateway = await DaprGateway.StartAsynchronousAsync(new GatewayOptions(), new GatewayListenOptions { Port = 0, SidecarAppPort = appPort }, Tokens(),
            layout, initial, Settings, poly, poly, corrects: true, new DaprSidecarEndpoints(sidecar.HttpEndpoint, sidecar.GrpcEndpoint));
        var dapr = gateway.Asynchronous!;
        float[] onDapr;
        using (var clients = new Clients(gateway.Server.Address))
        {
            await PlayAsync(clients, () => dapr.Model.Version.Value);
            await dapr.Completion.WaitAsync(TimeSpan.FromMinutes(1));
            onDapr = dapr.Model.Weights.ToArray();
        }

        // The same uploads in the same order, folded in one process.
        var store = new InMemoryUpdateStore();
        await using var bus = new InProcessEventBus();
        await using var inProcess = new AsynchronousCoordinator(layout, initial, Settings, new DcAsgdCorrector(Lambda), poly, store, bus);
        inProcess.Start();
        await using (var server = await GatewayServer.StartAsync(new GatewayOptions(), new GatewayListenOptions { Port = 0 }, Tokens(), inProcess, store, bus))
        using (var clients = new Clients(server.Address))
        {
            await PlayAsync(clients, () => inProcess.Model.Version.Value);
            await inProcess.Completion.WaitAsync(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(3, dapr.Model.Version.Value);
        for (int i = 0; i < Parameters; i++) Assert.Equal(inProcess.Model.Weights.Span[i], onDapr[i], 1e-5f);
        // The correction mattered: the stale update folded as it came (weighted) would give another model.
        Assert.True(MaxDifference(onDapr, UncorrectedModel(layout, initial, poly)) > 1e-3, "the corrected and the uncorrected model should differ");

        // The corrector app took the stale update's event and announced its correction under a key of its own.
        var published = cluster.Published.ToArray();
        Assert.Single(published, p => p.Topic == DaprNames.StaleUpdateTopic);
        Assert.Single(published, p => p.Topic == DaprNames.UpdateArrivedTopic && p.Json.Contains(StoreKeys.CorrectedSuffix, StringComparison.Ordinal));
        Assert.Single(published, p => p.Topic == DaprNames.CorrectionReportedTopic && p.Json.Contains("\"corrected\"", StringComparison.Ordinal));
        var outcomes = dapr.Statistics.Outcomes;
        Assert.Equal(inProcess.Statistics.Outcomes.OrderBy(o => o.Key), outcomes.OrderBy(o => o.Key));
        Assert.Equal(1, outcomes[StalenessOutcome.Corrected]);
        Assert.Equal(3, dapr.Rounds.Count);
        Assert.All(dapr.Rounds, r => Assert.Equal(2, r.Updates));
        // Every update was folded and deleted, and the models that left the window (MaxStaleness 2) too.
        var keys = cluster.StoredKeys();
        Assert.DoesNotContain(keys, k => k.StartsWith(StoreKeys.UpdatePrefix, StringComparison.Ordinal));
        Assert.DoesNotContain(keys, k => k.StartsWith(StoreKeys.InitialModel(0).Key + "|", StringComparison.Ordinal));
        Assert.All(cluster.DeliveryErrors, e => Assert.IsType<HttpRequestException>(e)); // Only the gateway's app port before it listened.
    }

    /// <summary>DC-ASGD's lambda: deterministic, so both runs correct alike (inversion is what the process test runs).</summary>
    private const double Lambda = 2.0;

    /// <summary>
    /// Versions 1 and 2 from two fresh updates each while device 0 holds a task of version 0; then
    /// device 0's update (2 versions old: corrected) and a fresh one make version 3.
    /// </summary>
    private static async Task PlayAsync(Clients clients, Func<long> version)
    {
        var slow = await clients[0].GetTaskAsync();
        for (int v = 1; v <= 2; v++)
        {
            for (int d = 1; d <= 2; d++)
            {
                var task = await clients[d].GetTaskAsync();
                await clients[d].SubmitUpdateAsync(task, Payload(0.05f * (v + d), d), 10 * d);
            }
            await WaitForAsync(version, v);
        }
        await clients[0].SubmitUpdateAsync(slow, Payload(0.5f, 0), 40);
        var last = await clients[3].GetTaskAsync();
        await clients[3].SubmitUpdateAsync(last, Payload(-0.1f, 3), 20);
    }

    /// <summary>What version 3 would be had device 0's update been folded uncorrected, weighted for its staleness (2).</summary>
    private static float[] UncorrectedModel(TensorLayout layout, float[] initial, IStalenessWeighting weighting)
    {
        using var server = new Aggregator.Buffered.BufferedAggregator(new Aggregator.Buffered.FedBuffOptions { BufferSize = 2, HistoryWindow = 8 }, layout, initial);
        for (int v = 1; v <= 2; v++)
            for (int d = 1; d <= 2; d++) server.Fold(Delta(0.05f * (v + d), d), 10 * d, new ModelVersion(v - 1));
        server.Fold(Delta(0.5f, 0), 40, ModelVersion.Initial, weighting.WeightOf(2));
        server.Fold(Delta(-0.1f, 3), 20, new ModelVersion(2));
        return server.CurrentWeights.ToArray();
    }

    private static float[] Delta(float value, int device)
    {
        var delta = new float[Parameters];
        for (int i = 0; i < Parameters; i++) delta[i] = value * (1 + ((i + device) % 5) * 0.25f);
        return delta;
    }

    private static byte[] Payload(float value, int device) => IdentityCodec.Instance.Encode(Delta(value, device), TestFederation.FlatLayout(Parameters));

    private static float MaxDifference(float[] a, float[] b)
    {
        float max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    private static async Task WaitForAsync(Func<long> version, long wanted)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (version() < wanted) await Task.Delay(10, timeout.Token);
    }

    private static ClientTokens Tokens()
    {
        var tokens = new ClientTokens();
        for (int i = 0; i < Devices; i++) tokens.Add(TestFederation.ClientIdOf(i), TestFederation.TokenOf(i));
        return tokens;
    }

    /// <summary>The corrector app (app id offload-corrector) on a test server behind its sidecar, running DC-ASGD.</summary>
    internal static async Task<WebApplication> StartCorrectorAsync(Sidecar.DaprCluster cluster, TensorLayout layout, IStalenessCorrector? corrector = null)
    {
        var sidecar = await cluster.StartSidecarAsync(DaprNames.CorrectorAppId);
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddOffloadCorrector(corrector ?? new DcAsgdCorrector(Lambda), new PolynomialStalenessWeighting(0.5), layout,
            configureClient: b => b.UseGrpcEndpoint(sidecar.GrpcEndpoint).UseHttpEndpoint(sidecar.HttpEndpoint));
        var app = builder.Build();
        app.UseOffloadCorrector();
        await app.StartAsync();
        sidecar.App = app.GetTestClient();
        return app;
    }

    /// <summary>One SDK client per device, retrying quickly.</summary>
    private sealed class Clients(Uri address) : IDisposable
    {
        private readonly FederatedClient[] _clients = Enumerable.Range(0, Devices).Select(i => new FederatedClientBuilder(address).WithToken(TestFederation.TokenOf(i))
            .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(200), MaxAttempts = 100 }).Build()).ToArray();

        public FederatedClient this[int device] => _clients[device];

        public void Dispose()
        {
            foreach (var c in _clients) c.Dispose();
        }
    }
}
