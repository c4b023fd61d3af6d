using System.Text.Json;
using Offload.Aggregator.Events;
using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Functions.Aggregation;
using Offload.Functions.Names;
using Offload.Functions.Rounds;
using Offload.Functions.Storage;
using Offload.Functions.Subscriptions;

namespace Offload.Functions.Tests.Aggregation;

/// <summary>
/// A stateful strategy (FedAdam's moments, FedAvgM's momentum) in the Dapr deployment: the server state
/// lives beside the model in the shared store, so a round whose top runs on a fresh functions instance
/// (the previous one scaled away) steps exactly as one long-lived instance does, and as the in-process tree.
/// </summary>
public sealed class ServerStateAcrossInstancesTests
{
    private static readonly TensorLayout Layout = RoundScenario.Layout;
    private const int Rounds = 3, Clients = 3;

    [Theory]
    [InlineData("fedadam:eta=0.1")]
    [InlineData("fedavgm:beta=0.5")]
    [InlineData("median")]
    public async Task A_fresh_instance_each_round_steps_as_one_instance_and_as_the_process(string strategy)
    {
        var rotating = await RunAsync(strategy, freshInstanceEachRound: true);
        var single = await RunAsync(strategy, freshInstanceEachRound: false);
        var reference = InProcess(StrategyCatalog.Parse(strategy));
        Assert.Equal(single, rotating);
        for (int j = 0; j < reference.Length; j++) Assert.Equal(reference[j], rotating[j], 5);
        Assert.NotEqual(RoundScenario.Initial, rotating);
    }

    /// <summary>Runs the rounds through the functions over the stand-in sidecars; returns the last model.</summary>
    private static async Task<float[]> RunAsync(string strategy, bool freshInstanceEachRound)
    {
        // The actor host (the gateway's app); its own functions instance is kept out of deliveries.
        await using var host = await FunctionsApp.StartAsync();
        host.Sidecar.App = null;
        var instances = new List<FunctionsApp>();
        try
        {
            var store = new DaprUpdateStore(new Dapr.Client.DaprClientBuilder().UseGrpcEndpoint(host.Sidecar.GrpcEndpoint).UseHttpEndpoint(host.Sidecar.HttpEndpoint).Build());
            var model = AggregatorStep.ModelReference(0);
            await store.WriteAllAsync(model, ModelWeightsFormat.Encode(RoundScenario.Initial));
            FunctionsApp? current = null;
            for (long round = 1; round <= Rounds; round++)
            {
                if (current is null || freshInstanceEachRound)
                {
                    // The previous instance scaled to zero: nothing is delivered to it any more, and the new one starts cold.
                    if (current is not null) current.Sidecar.App = null;
                    current = await FunctionsApp.StartAsync(actorHost: false, cluster: host.Cluster);
                    instances.Add(current);
                }
                var scenario = new RoundScenario(current, round);
                await scenario.CallActorAsync("Open", new RoundOpening(round, Clients, MaxFanIn: 2, 300, model.Key, round - 1, TensorShape.Of(Layout),
                    Last: round == Rounds, Strategy: strategy));
                for (int c = 0; c < Clients; c++)
                {
                    var arrived = await StoreAsync(store, round, c);
                    Assert.Equal("SUCCESS", (await scenario.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, arrived))["status"]!.GetValue<string>());
                }
                var answers = await host.Cluster.DeliverPendingAsync();
                Assert.All(answers, a => Assert.Contains("SUCCESS", a));
                var published = host.Cluster.Published.Where(p => p.Topic == DaprNames.ModelPublishedTopic)
                    .Select(p => JsonSerializer.Deserialize<ModelPublished>(p.Json, EventJson.Options)!).Single(m => m.Round == round);
                Assert.Equal(Clients, published.Updates);
                model = published.Reference;
                // The state is stored beside the model the next round trains from.
                Assert.NotNull(await store.TryReadAllAsync(AggregatorStep.ServerStateReference(model)));
            }
            var state = ServerState.Decode((await store.TryReadAllAsync(AggregatorStep.ServerStateReference(model)))!, StrategyCatalog.Parse(strategy).Name, Layout.TotalLength);
            Assert.Equal(Rounds, state.Rounds);
            return ModelWeightsFormat.Decode(await store.ReadAllAsync(model), Layout.TotalLength);
        }
        finally
        {
            foreach (var instance in instances) await instance.DisposeAsync();
        }
    }

    /// <summary>The same rounds through the in-process tree of the same plan, one state carried in memory.</summary>
    private static float[] InProcess(AggregationStrategy strategy)
    {
        var weights = RoundScenario.Initial.ToArray();
        var state = strategy.InitialState();
        for (long round = 1; round <= Rounds; round++)
        {
            using var tree = new AggregationTree(Layout, TreePlanner.Plan(Clients, 2), round, strategy);
            var v = new ModelVersion(round - 1);
            for (int c = 0; c < Clients; c++)
                tree.Fold(c, $"c{c}", Delta(round, c), strategy.WeightOf(new UpdateReceipt(Samples(c), v, v)));
            tree.Publish(strategy, weights, state);
        }
        return weights;
    }

    private static async Task<UpdateArrived> StoreAsync(IUpdateStore store, long round, int client)
    {
        var payload = IdentityCodec.Instance.Encode(Delta(round, client), Layout);
        var reference = UpdateReference.ForTask($"c{client}", $"t{round}");
        await store.WriteAllAsync(reference, payload);
        return new UpdateArrived(reference, $"c{client}", $"t{round}", round, new ModelVersion(round - 1), Samples(client), payload.Length, "node-0");
    }

    private static long Samples(int client) => 10 + 5 * client;

    private static float[] Delta(long round, int client) =>
        [0.1f * (client + 1) * (round % 2 == 0 ? -1 : 1), 0.05f * round, -0.2f + 0.1f * client, 0.3f / (client + round)];
}
