using System.Net;
using System.Net.Sockets;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Strategies;
using Offload.Cli.Simulation;
using Offload.Client.Federation;
using Offload.Client.Training;
using Offload.Core.Data;
using Offload.Core.Federation;
using Offload.Core.Model;
using Offload.Functions.Authentication;
using Offload.Functions.Gateway;
using Offload.Functions.Hosting;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// The Dapr deployment end to end: devices train over real gRPC against the gateway app
/// (<see cref="DaprGateway"/>, real Kestrel on loopback), which stores payloads and publishes
/// <c>UpdateArrived</c> through its sidecar and opens rounds on the <c>RoundActor</c>; the aggregator
/// functions app folds them through its leaf, middle and top functions; the gateway's subscription
/// receives <c>ModelPublished</c> and opens the next round. Both apps talk to one loopback
/// <see cref="Sidecar.SidecarStandIn"/> (shared pub/sub and state store, actor calls forwarded to the
/// functions app), which delivers events in the background as the sidecar would.
/// </summary>
public class DaprDeploymentTests
{
    private const int Seed = 11;

    private static int FreePort()
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

    private static async Task<Deployment> StartAsync(TrainTestDataset data, SimulationOptions options, int minClients, int fanIn, TimeSpan deadline,
        DownstreamMode downstream = DownstreamMode.Full)
    {
        var functions = await FunctionsApp.StartAsync();
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
        var sidecar = functions.Sidecar;
        var gateway = await DaprGateway.StartAsync(new GatewayOptions(), new GatewayListenOptions { Port = 0, DaprAppPort = appPort }, tokens,
            initial.Layout, weights, rounds, new DaprSidecarEndpoints(sidecar.HttpEndpoint, sidecar.GrpcEndpoint));
        sidecar.AddSubscriber(new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{appPort}") });
        sidecar.StartDelivering();
        return new Deployment { Functions = functions, Gateway = gateway };
    }

    [Fact]
    public async Task Devices_train_through_the_gateway_and_the_functions_tree_to_the_simulators_model()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 5, rounds: 2, Seed);
        // Five updates under fan-in 2: leaves, middle aggregators and the top.
        await using var deployment = await StartAsync(data, options, minClients: 5, fanIn: 2, deadline: TimeSpan.FromHours(1));
        var participations = await ReferenceTraining.ParticipateAllAsync(data, options, deployment.Client);
        await deployment.Gateway.Coordinator.Completion.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Empty(deployment.Functions.Sidecar.DeliveryErrors);
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
        // Folded payloads, partials and the models rounds trained from are deleted: the final model alone stays.
        string final = System.Text.Json.Nodes.JsonNode.Parse(published.Last(p => p.Topic == DaprNames.ModelPublishedTopic).Json)!["reference"]!["key"]!.GetValue<string>();
        Assert.All(deployment.Functions.Sidecar.StateKeys, k => Assert.StartsWith(final + "|", k));

        ReferenceTraining.AssertClose(ReferenceTraining.Simulate(data, options), coordinator.Model.Weights.Span);
    }

    [Fact]
    public async Task With_FedZip_downstream_devices_download_each_new_model_as_a_change_they_rebuild_exactly()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 3, rounds: 3, Seed);
        await using var deployment = await StartAsync(data, options, minClients: 3, fanIn: 0, deadline: TimeSpan.FromHours(1), DownstreamMode.FedZip);
        var participations = await ReferenceTraining.ParticipateAllAsync(data, options, deployment.Client);
        await deployment.Gateway.Coordinator.Completion.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Empty(deployment.Functions.Sidecar.DeliveryErrors);
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
        await ReferenceTraining.ParticipateAllAsync(data, options, deployment.Client);
        await deployment.Gateway.Coordinator.Completion.WaitAsync(TimeSpan.FromMinutes(1));

        // Devices that finish training after the deadline hear "round closed"; every update the
        // gateway acknowledged is in the model, however the timing fell.
        var round = Assert.Single(deployment.Gateway.Coordinator.Rounds);
        Assert.True(round.ClosedByDeadline);
        Assert.InRange(round.Updates, 1, 3);
        Assert.Equal(deployment.Gateway.Server.Metrics.Accepted, round.Updates);
        Assert.Empty(deployment.Functions.Sidecar.DeliveryErrors);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task The_serve_command_runs_as_the_deployments_gateway_with_client_processes(bool endpointVariables, bool functionsProcess)
    {
        // Processes as `dapr run -f dapr-components/dapr.yaml` starts them: `offload serve --aggregator dapr`
        // (and, in the second case, `offload serve --dapr`) find their sidecar through DAPR_GRPC_PORT/
        // DAPR_HTTP_PORT (what `dapr run` and the injector set) or the _ENDPOINT forms; devices are
        // `offload client`. The gateway may start before the functions: it waits for their actors.
        await using var functions = functionsProcess ? null : await FunctionsApp.StartAsync();
        await using var standalone = functionsProcess ? await Sidecar.SidecarStandIn.StartAsync() : null;
        var sidecar = functions?.Sidecar ?? standalone!;
        (string, string)[] environment = endpointVariables
            ? [("DAPR_GRPC_ENDPOINT", sidecar.GrpcEndpoint), ("DAPR_HTTP_ENDPOINT", sidecar.HttpEndpoint)]
            : [("DAPR_GRPC_PORT", new Uri(sidecar.GrpcEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
               ("DAPR_HTTP_PORT", new Uri(sidecar.HttpEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        int port = FreePort(), appPort = FreePort(), functionsPort = FreePort();
        string output = Directory.CreateTempSubdirectory("offload-dapr-serve").FullName;
        var processes = new OffloadProcesses(); // Disposed before the output folder is deleted.
        try
        {
            var serve = processes.Start(["serve", "--aggregator", "dapr", "--port", $"{port}", "--app-port", $"{appPort}", "--min-clients", "2", "--rounds", "2",
                "--batch", "50", "--lr", "0.02", "--seed", $"{Seed}", "--data", "bundled", "--linger", "1", "--out", output,
                "--token", $"{TestFederation.ClientIdOf(0)}={TestFederation.TokenOf(0)}", "--token", $"{TestFederation.ClientIdOf(1)}={TestFederation.TokenOf(1)}"],
                environment);
            if (functionsProcess)
            {
                processes.Start(["serve", "--dapr", "--port", $"{functionsPort}"], environment);
                sidecar.App = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{functionsPort}") };
            }
            sidecar.AddSubscriber(new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{appPort}") });
            sidecar.StartDelivering();
            var devices = Enumerable.Range(0, 2).Select(i => processes.Start(["client", "--server", $"http://127.0.0.1:{port}", "--token", TestFederation.TokenOf(i),
                "--partition", $"{i}/2", "--data", "bundled", "--seed", $"{Seed}", "--threads", "1"])).ToArray();
            var clients = await Task.WhenAll(devices.Select(d => d.ExitAsync(TimeSpan.FromMinutes(3))));
            var (exitCode, served, serveErr) = await serve.ExitAsync(TimeSpan.FromMinutes(1));
            Assert.True(exitCode == 0, $"serve exited {exitCode}: {serveErr}\n{served}\nunimplemented sidecar calls: {string.Join(", ", sidecar.Unmatched)}");
            Assert.All(clients, c => Assert.True(c.ExitCode == 0 && c.Out.Contains("done after 2 rounds", StringComparison.Ordinal), $"exit {c.ExitCode}: {c.Err}\n{c.Out}"));
            Assert.Contains("by the Dapr aggregator functions", served);
            Assert.Contains("round 2/2: 2 updates", served);
            var summary = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(output, "summary.json")))!;
            Assert.Equal("dapr", summary["configuration"]!["aggregator"]!.GetValue<string>());
            Assert.Equal(4, summary["gateway"]!["accepted"]!.GetValue<long>());
            // The stand-in, like a sidecar, cannot reach the gateway before it listens or after it exits; nothing else failed.
            Assert.All(sidecar.DeliveryErrors, e => Assert.IsType<HttpRequestException>(e));
            Assert.Empty(sidecar.Unmatched); // Every call the apps made was one the sidecar serves.
        }
        finally
        {
            processes.Dispose();
            Directory.Delete(output, recursive: true);
        }
    }
}
