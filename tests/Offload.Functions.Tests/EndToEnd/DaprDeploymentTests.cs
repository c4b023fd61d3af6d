using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Cli.Simulation;
using Offload.Client.Federation;
using Offload.Client.Training;
using Offload.Core.Data;
using Offload.Core.Federation;
using Offload.Core.Model;
using Offload.Functions.Hosting;
using Offload.Functions.Names;
using Offload.Functions.Storage;
using Offload.Gateway.Authentication;
using Offload.Gateway.Hosting;
using Offload.Gateway.Service;
using Xunit.Abstractions;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// The Dapr deployment end to end: devices train over real gRPC against the gateway app
/// (<see cref="DaprGateway"/>, real Kestrel on loopback), which stores payloads and publishes
/// <c>UpdateArrived</c> through its sidecar and hosts the <c>RoundActor</c>; the aggregator
/// functions app folds them through its leaf, middle and top functions; the gateway's subscription
/// receives <c>ModelPublished</c> and opens the next round. Each app has its own
/// <see cref="Sidecar.SidecarStandIn"/> in one <see cref="Sidecar.DaprCluster"/> over the repository's
/// dapr-components/ (per-app key prefixes, placement, one turn per actor, the body limit, batching
/// and redelivery as daprd does them), delivering events in the background.
/// </summary>
public class DaprDeploymentTests(ITestOutputHelper output)
{
    private const int Seed = 11;

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Deployment : IAsyncDisposable
    {
        private readonly List<IDisposable> _owned = [];

        public required FunctionsApp Functions { get; init; }
        public required DaprGateway Gateway { get; init; }
        public Sidecar.DaprCluster Cluster => Functions.Cluster;

        /// <summary>Waits for the last round's model; on a timeout, says what the cluster saw.</summary>
        public async Task CompletionAsync(TimeSpan timeout)
        {
            try
            {
                await Gateway.Coordinator.Completion.WaitAsync(timeout);
            }
            catch (TimeoutException)
            {
                Assert.Fail($"No final model in {timeout}. {Explain()}");
            }
        }

        /// <summary>What the cluster saw, for a failure message.</summary>
        public string Explain() =>
            $"Answers: {string.Join("; ", Cluster.Answers)}. Published: {string.Join(", ", Cluster.Published.Select(p => p.Topic))}. "
            + $"Unmatched: {string.Join(", ", Cluster.Unmatched)}. Errors: {string.Join(" | ", Cluster.DeliveryErrors.Select(e => e.Message).Distinct())}. Calls: {string.Join(", ", Cluster.ActorCalls.TakeLast(20))}";

        /// <summary>Devices' participation, failing with what the cluster saw when it does not end in time.</summary>
        public async Task<T> WithinAsync<T>(Task<T> work, TimeSpan timeout)
        {
            try
            {
                return await work.WaitAsync(timeout);
            }
            catch (TimeoutException)
            {
                Assert.Fail($"Devices did not finish in {timeout}. {Explain()}");
                throw;
            }
        }

        public FederatedClient Client(int client)
        {
            var built = new FederatedClientBuilder(Gateway.Server.Address).WithToken(TestFederation.TokenOf(client))
                .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(500) }).Build();
            lock (_owned) _owned.Add(built);
            return built;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var d in _owned) d.Dispose();
            await Gateway.DisposeAsync();
            await Functions.DisposeAsync();
        }
    }

    /// <summary>The node the gateway and the functions run on when they share a node store.</summary>
    private const string NodeName = "node-a";

    private static async Task<Deployment> StartAsync(TrainTestDataset data, SimulationOptions options, int minClients, int fanIn, TimeSpan deadline,
        DownstreamMode downstream = DownstreamMode.Full, string? components = null, bool deliver = true, IUpdateStore? nodeStore = null, IUpdateStore? gatewayNodeStore = null)
    {
        // The functions host no actor: the gateway does, as in the deployment. With a node store, both are on node NodeName.
        var functions = await FunctionsApp.StartAsync(actorHost: false, components: components, services: nodeStore is null ? null
            : s => s.AddSingleton<IUpdateStore>(sp => new NodeLocalUpdateStore(nodeStore, new DaprUpdateStore(sp.GetRequiredService<Dapr.Client.DaprClient>()), NodeName)));
        using var initial = TorchTrainer.CreateDefault(options.Seed, data.Train.Rows, data.Train.Columns, data.Train.ClassCount);
        var weights = new float[initial.Layout.TotalLength];
        initial.ExportWeights(weights);
        var tokens = new ClientTokens();
        for (int i = 0; i < options.Clients; i++) tokens.Add(TestFederation.ClientIdOf(i), TestFederation.TokenOf(i));
        var rounds = new RoundOptions
        {
            MinClients = minClients,
            Rounds = options.Rounds,
            RoundDeadline = deadline,
            WaitRetry = TimeSpan.FromMilliseconds(50),
            HierarchyFanIn = fanIn,
            Plan = new TrainingOptions(options.LocalEpochs, options.BatchSize, options.LearningRate),
            Downstream = downstream,
        };
        int appPort = FreePort();
        var sidecar = await functions.Cluster.StartSidecarAsync(DaprNames.GatewayAppId);
        // The app channel is known before the app listens, as daprd's --app-port is; placement finds the actor host once it answers.
        sidecar.App = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{appPort}") };
        if (deliver) functions.Cluster.StartDelivering();
        var gateway = await DaprGateway.StartAsync(new GatewayOptions { Node = NodeName }, new GatewayListenOptions { Port = 0, SidecarAppPort = appPort }, tokens,
            initial.Layout, weights, rounds, new DaprSidecarEndpoints(sidecar.HttpEndpoint, sidecar.GrpcEndpoint), nodeStore: gatewayNodeStore ?? nodeStore);
        return new Deployment { Functions = functions, Gateway = gateway };
    }

    [Fact]
    public async Task Devices_train_through_the_gateway_and_the_functions_tree_to_the_simulators_model()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 5, rounds: 2, Seed);
        // Five updates under fan-in 2: leaves, middle aggregators and the top.
        await using var deployment = await StartAsync(data, options, minClients: 5, fanIn: 2, deadline: TimeSpan.FromHours(1));
        var participations = await deployment.WithinAsync(ReferenceTraining.ParticipateAllAsync(data, options, deployment.Client), TimeSpan.FromMinutes(2));
        await deployment.CompletionAsync(TimeSpan.FromMinutes(1));

        Assert.All(deployment.Cluster.DeliveryErrors, e => Assert.IsType<HttpRequestException>(e)); // Only the gateway's app port before it listened.
        Assert.Equal(1, deployment.Cluster.MaxActorOverlap);
        Assert.All(participations, p => Assert.Equal([1L, 2L], p.Select(r => r.Round)));
        var coordinator = deployment.Gateway.Coordinator;
        Assert.Equal(2, coordinator.Model.Version.Value);
        Assert.All(coordinator.Rounds, r => Assert.Equal((5, false), (r.Updates, r.ClosedByDeadline)));
        var published = deployment.Functions.Sidecar.Published.ToArray();
        Assert.Equal(10, published.Count(p => p.Topic == DaprNames.UpdateArrivedTopic));
        int belowTop = Aggregator.Hierarchy.TreePlanner.Plan(5, 2).AggregatorsPerLevel.Sum() - 1;
        Assert.True(belowTop >= 3, $"the tree should have middle aggregators, got {belowTop} below the top");
        Assert.Equal(2 * belowTop, published.Count(p => p.Topic == DaprNames.PartialReadyTopic));
        Assert.Equal(2, published.Count(p => p.Topic == DaprNames.ModelPublishedTopic));
        // Pre-warming: each round's actor announced the round when it opened, and the functions took it.
        Assert.Equal([1L, 2L], published.Where(p => p.Topic == DaprNames.RoundOpenedTopic)
            .Select(p => System.Text.Json.Nodes.JsonNode.Parse(p.Json)!["round"]!.GetValue<long>()).Order());
        Assert.Equal(2, deployment.Cluster.Answers.Count(a => a == $"{DaprNames.RoundOpenedTopic}: SUCCESS"));
        // Folded payloads, partials and the models rounds trained from (with their server states) are deleted:
        // the final model and the strategy's state beside it alone stay, with the gateway's journal of the last round.
        string final = System.Text.Json.Nodes.JsonNode.Parse(published.Last(p => p.Topic == DaprNames.ModelPublishedTopic).Json)!["reference"]!["key"]!.GetValue<string>();
        Assert.All(deployment.Functions.Sidecar.StateKeys, k => Assert.True(k.StartsWith(final + "|", StringComparison.Ordinal) || k.StartsWith(final + "/state|", StringComparison.Ordinal)
            || k == Functions.Journal.DaprFederationJournal.HeadKey || k == Functions.Journal.DaprFederationJournal.RoundKey(2), k));
        Assert.Contains(deployment.Functions.Sidecar.StateKeys, k => k.StartsWith(final + "/state|", StringComparison.Ordinal));

        ReferenceTraining.AssertClose(ReferenceTraining.Simulate(data, options), coordinator.Model.Weights.Span);
    }

    [Fact]
    public async Task With_a_node_store_no_update_or_partial_passes_through_the_state_store_and_the_model_is_the_same()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 5, rounds: 2, Seed);
        string folder = Directory.CreateTempSubdirectory("offload-dapr-node-").FullName;
        try
        {
            // One node: the gateway and the functions attach to the same shared-memory store, as two processes would.
            using var gatewaySide = SharedMemoryUpdateStore.Open(Path.Combine(folder, "node-store"), 64 << 20);
            using var functionsSide = SharedMemoryUpdateStore.Open(Path.Combine(folder, "node-store"));
            await using (var deployment = await StartAsync(data, options, minClients: 5, fanIn: 2, deadline: TimeSpan.FromHours(1), nodeStore: functionsSide, gatewayNodeStore: gatewaySide))
            {
                await deployment.WithinAsync(ReferenceTraining.ParticipateAllAsync(data, options, deployment.Client), TimeSpan.FromMinutes(2));
                await deployment.CompletionAsync(TimeSpan.FromMinutes(1));

                var saved = deployment.Cluster.SavedKeys.ToArray();
                Assert.Contains(saved, k => k.StartsWith(Functions.Storage.StoreKeys.ModelPrefix, StringComparison.Ordinal));
                Assert.DoesNotContain(saved, k => k.StartsWith(Functions.Storage.StoreKeys.UpdatePrefix, StringComparison.Ordinal) || k.StartsWith(Functions.Storage.StoreKeys.PartialPrefix, StringComparison.Ordinal));
                // Events carry references, never payloads: the largest is far below one update's bytes.
                // Updates and partials travel on the node's topics, which only that node's functions take.
                var published = deployment.Functions.Sidecar.Published.ToArray();
                Assert.Equal(10, published.Count(p => p.Topic == NodeTopics.For(DaprNames.UpdateArrivedTopic, NodeName)));
                Assert.Contains(published, p => p.Topic == NodeTopics.For(DaprNames.PartialReadyTopic, NodeName));
                Assert.DoesNotContain(published, p => p.Topic is DaprNames.UpdateArrivedTopic or DaprNames.PartialReadyTopic);
                Assert.All(published, p => Assert.True(p.Json.Length < 4096, $"{p.Topic} carried {p.Json.Length} characters"));
                ReferenceTraining.AssertClose(ReferenceTraining.Simulate(data, options), deployment.Gateway.Coordinator.Model.Weights.Span);
            }
            // Every update and partial was folded and deleted from the node.
            var left = gatewaySide.ReadStats();
            Assert.Equal((0, 0, 0), (left.Pending, left.Committed, left.Deleted));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task With_FedZip_downstream_devices_download_each_new_model_as_a_change_they_rebuild_exactly()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 3, rounds: 3, Seed);
        await using var deployment = await StartAsync(data, options, minClients: 3, fanIn: 0, deadline: TimeSpan.FromHours(1), DownstreamMode.FedZip);
        var participations = await deployment.WithinAsync(ReferenceTraining.ParticipateAllAsync(data, options, deployment.Client), TimeSpan.FromMinutes(2));
        await deployment.CompletionAsync(TimeSpan.FromMinutes(1));

        Assert.All(deployment.Cluster.DeliveryErrors, e => Assert.IsType<HttpRequestException>(e));
        // A change counts as applied only when the rebuilt weights matched the gateway's CRC-32C.
        Assert.All(participations, p => Assert.Equal(new[] { false, true, true }, p.Select(r => r.DownloadedDelta)));
        var coordinator = deployment.Gateway.Coordinator;
        Assert.Equal(3, coordinator.Model.Version.Value);
        Assert.Equal(coordinator.Model.Version, coordinator.Broadcast.Version);
        Assert.Equal(new ModelVersion(2), coordinator.Broadcast.Change!.BaseVersion);
    }

    [Fact]
    public async Task At_the_deadline_the_gateway_closes_the_round_once_every_reserved_update_reached_the_actor()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 3, rounds: 1, Seed);
        // Four updates would close the round; only three devices exist, so the deadline closes it.
        await using var deployment = await StartAsync(data, options, minClients: 4, fanIn: 2, deadline: TimeSpan.FromSeconds(2));
        await deployment.WithinAsync(ReferenceTraining.ParticipateAllAsync(data, options, deployment.Client), TimeSpan.FromMinutes(2));
        await deployment.CompletionAsync(TimeSpan.FromMinutes(1));

        // Devices that finish training after the deadline hear "round closed"; every update the
        // gateway acknowledged is in the model, however the timing fell.
        var round = Assert.Single(deployment.Gateway.Coordinator.Rounds);
        Assert.True(round.ClosedByDeadline);
        Assert.InRange(round.Updates, 1, 3);
        Assert.Equal(deployment.Gateway.Server.Metrics.Accepted, round.Updates);
        Assert.All(deployment.Cluster.DeliveryErrors, e => Assert.IsType<HttpRequestException>(e));
    }

    [Fact]
    public async Task With_the_old_component_settings_the_apps_cannot_see_each_others_state_and_no_round_completes()
    {
        // The components before this fix: one state store with the actor flag and no keyPrefix, so
        // daprd prefixes every key with the calling app's id.
        using var old = Sidecar.ComponentsFolder.WithStateStore(keyPrefix: null, actorStateStore: true, DaprNames.GatewayAppId, DaprNames.FunctionsAppId);
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 2, rounds: 1, Seed);
        await using var deployment = await StartAsync(data, options, minClients: 2, fanIn: 2, deadline: TimeSpan.FromHours(1), components: old.Path, deliver: false);
        using var stop = new CancellationTokenSource();
        var devices = ReferenceTraining.ParticipateAllAsync(data, options, deployment.Client).WaitAsync(stop.Token);
        // Deterministic: the uploads are acknowledged, then every event is delivered once.
        while (deployment.Gateway.Server.Metrics.Accepted < 2) await Task.Delay(50);
        var answers = await deployment.Cluster.DeliverPendingAsync(maxPasses: 1);
        // Both updates are dropped (their payloads are under the gateway's prefix); the round's RoundOpened,
        // which reads no state, is the one event that succeeds.
        Assert.Equal(["DROP", "DROP", "SUCCESS"], answers.Order(StringComparer.Ordinal));
        Assert.Contains(deployment.Cluster.StoredKeys(), k => k.StartsWith(DaprNames.GatewayAppId + "||update/", StringComparison.Ordinal));
        Assert.DoesNotContain(deployment.Cluster.Published, p => p.Topic == DaprNames.PartialReadyTopic || p.Topic == DaprNames.ModelPublishedTopic);
        Assert.False(deployment.Gateway.Coordinator.Completion.IsCompleted);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => devices);
    }

    [Theory]
    [InlineData(false, false, 64)]
    [InlineData(true, true, 64)]
    // fc1 512 x 3,000: 1.5M parameters, a 6 MB model, update and partial sum, none of which fits one
    // 4 MB state call (each goes in 1 MiB pieces; docs/dapr.md measures a 46 MB model the same way).
    [InlineData(true, true, 3_000)]
    // kill -9 of the functions once they have taken an update, and a fresh instance in their place.
    [InlineData(false, true, 64, true)]
    public async Task The_serve_command_runs_as_the_deployments_gateway_with_client_processes(bool endpointVariables, bool functionsProcess, int hidden, bool killFunctions = false)
    {
        // Processes as `dapr run -f dapr-components/dapr.yaml` starts them, each app with its own
        // sidecar: `offload serve --aggregator dapr` (the gateway and the actor host) and, in the
        // second and third cases, `offload serve --dapr` find their sidecar through DAPR_GRPC_PORT/
        // DAPR_HTTP_PORT (what `dapr run` and the injector set) or the _ENDPOINT forms; devices are
        // `offload client`. The gateway may start before the functions.
        await using var cluster = Sidecar.DaprCluster.FromComponents();
        var gatewaySidecar = await cluster.StartSidecarAsync(DaprNames.GatewayAppId);
        await using var functions = functionsProcess ? null : await FunctionsApp.StartAsync(actorHost: false, cluster: cluster);
        var functionsSidecar = functions?.Sidecar ?? await cluster.StartSidecarAsync(DaprNames.FunctionsAppId);
        static (string, string)[] Environment(Sidecar.SidecarStandIn sidecar, bool endpoints) => endpoints
            ? [("DAPR_GRPC_ENDPOINT", sidecar.GrpcEndpoint), ("DAPR_HTTP_ENDPOINT", sidecar.HttpEndpoint)]
            : [("DAPR_GRPC_PORT", new Uri(sidecar.GrpcEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
               ("DAPR_HTTP_PORT", new Uri(sidecar.HttpEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        int port = FreePort(), appPort = FreePort(), functionsPort = FreePort();
        string outputDirectory = Directory.CreateTempSubdirectory("offload-dapr-serve").FullName;
        var processes = new OffloadProcesses(); // Disposed before the output folder is deleted.
        try
        {
            gatewaySidecar.App = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{appPort}") };
            var serve = processes.Start(["serve", "--aggregator", "dapr", "--port", $"{port}", "--app-port", $"{appPort}", "--min-clients", "2", "--rounds", "2",
                "--batch", "50", "--lr", "0.02", "--seed", $"{Seed}", "--data", "bundled", "--linger", "1", "--out", outputDirectory, "--hidden", $"{hidden}",
                "--token", $"{TestFederation.ClientIdOf(0)}={TestFederation.TokenOf(0)}", "--token", $"{TestFederation.ClientIdOf(1)}={TestFederation.TokenOf(1)}"],
                Environment(gatewaySidecar, endpointVariables));
            OffloadProcesses.Running? functionsApp = null;
            if (functionsProcess)
            {
                functionsApp = processes.Start(["serve", "--dapr", "--port", $"{functionsPort}"], Environment(functionsSidecar, endpointVariables));
                functionsSidecar.App = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{functionsPort}") };
            }
            cluster.StartDelivering();
            var devices = Enumerable.Range(0, 2).Select(i => processes.Start(["client", "--server", $"http://127.0.0.1:{port}", "--token", TestFederation.TokenOf(i),
                "--partition", $"{i}/2", "--data", "bundled", "--seed", $"{Seed}", "--threads", "1", "--hidden", $"{hidden}"])).ToArray();
            if (killFunctions)
            {
                // Whenever the kill lands (before its leaf emits, mid-emit, or later), the instance held
                // nothing the round needs: unacknowledged events come again, claimed leaves are claimed again.
                var limit = DateTime.UtcNow + TimeSpan.FromMinutes(2);
                while (!cluster.Answers.Any(a => a.StartsWith(DaprNames.UpdateArrivedTopic + ": SUCCESS", StringComparison.Ordinal)) && DateTime.UtcNow < limit) await Task.Delay(20);
                functionsApp!.Process.Kill(entireProcessTree: true);
                await functionsApp.Process.WaitForExitAsync();
                processes.Start(["serve", "--dapr", "--port", $"{functionsPort}"], Environment(functionsSidecar, endpointVariables));
            }
            var clients = await Task.WhenAll(devices.Select(d => d.ExitAsync(TimeSpan.FromMinutes(5))));
            var (exitCode, served, serveErr) = await serve.ExitAsync(TimeSpan.FromMinutes(2));
            Assert.True(exitCode == 0, $"serve exited {exitCode}: {serveErr}\n{served}\nunimplemented sidecar calls: {string.Join(", ", cluster.Unmatched)}");
            Assert.All(clients, c => Assert.True(c.ExitCode == 0 && c.Out.Contains("done after 2 rounds", StringComparison.Ordinal), $"exit {c.ExitCode}: {c.Err}\n{c.Out}"));
            Assert.Contains("by the Dapr aggregator functions", served);
            Assert.Contains("round 2/2: 2 updates", served);
            foreach (string line in served.Split('\n').Where(l => l.StartsWith("round ", StringComparison.Ordinal))) output.WriteLine($"hidden {hidden}: {line.Trim()}");
            var summary = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(outputDirectory, "summary.json")))!;
            Assert.Equal("dapr", summary["configuration"]!["aggregator"]!.GetValue<string>());
            Assert.Equal(4, summary["gateway"]!["accepted"]!.GetValue<long>());
            // The stand-in, like a sidecar, cannot reach an app before it listens or after it exits; nothing else failed.
            Assert.All(cluster.DeliveryErrors, e => Assert.IsType<HttpRequestException>(e));
            Assert.Empty(cluster.Unmatched); // Every call the apps made was one the sidecar serves.
            Assert.Equal(1, cluster.MaxActorOverlap);
            // Payloads, partials and models stayed in pieces under the body limit, and the actor state went to the gateway's store.
            Assert.Contains(cluster.StoredKeys(DaprNames.ActorStateStore), k => k.StartsWith($"{DaprNames.GatewayAppId}||{DaprNames.RoundActorType}||", StringComparison.Ordinal));
        }
        finally
        {
            processes.Dispose();
            Directory.Delete(outputDirectory, recursive: true);
        }
    }
}
