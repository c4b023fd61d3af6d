using System.Net;
using System.Text.Json;
using Dapr.Client;
using Microsoft.Extensions.DependencyInjection;
using Offload.Aggregator.Events;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Functions.Events;
using Offload.Functions.Names;
using Offload.Functions.Storage;
using Offload.Functions.Subscriptions;
using Offload.Functions.Tests.Sidecar;
using Offload.Gateway.Nodes;

namespace Offload.Functions.Tests.Aggregation;

/// <summary>
/// Two nodes, each a shared-memory store in a folder of its own with its node agent on loopback and
/// a functions instance subscribed to its node's topics, in one Dapr installation (the sidecar
/// stand-in). Updates land on both nodes; each node folds its own into leaves of its own, and what
/// a parent needs from the other node arrives by <c>PullObject</c>.
/// </summary>
public sealed class CrossNodeRoundTests
{
    private static readonly string[] Nodes = ["node-a", "node-b"];
    private static readonly float[][] Deltas = [[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 4], [1, 1, 1, 1], [-1, 0, 2, 0]];
    private static readonly long[] Samples = [1, 2, 3, 4, 10, 5];

    [Fact]
    public async Task Updates_on_two_nodes_fold_where_they_landed_and_the_model_equals_the_single_node_one()
    {
        // Arrivals alternate between the nodes; the single-node run takes the same updates on one node.
        var twoNodes = await RunAsync(i => Nodes[i % 2]);
        var oneNode = await RunAsync(_ => Nodes[0]);

        for (int j = 0; j < 4; j++)
        {
            double expected = RoundScenario.Initial[j] + Enumerable.Range(0, Deltas.Length).Sum(i => Samples[i] * (double)Deltas[i][j]) / Samples.Sum();
            Assert.Equal(expected, oneNode.Model[j], 5);
            Assert.True(Math.Abs(twoNodes.Model[j] - oneNode.Model[j]) <= 1e-6 * Math.Max(1, Math.Abs(oneNode.Model[j])), $"element {j}: {twoNodes.Model[j]} against {oneNode.Model[j]}");
        }
        // Each node's updates and partials went on its own topic, so each node's functions folded its own.
        Assert.Equal(3, twoNodes.Topics.Count(t => t == NodeTopics.For(DaprNames.UpdateArrivedTopic, "node-b")));
        Assert.Contains(NodeTopics.For(DaprNames.PartialReadyTopic, "node-a"), twoNodes.Topics);
        Assert.Contains(NodeTopics.For(DaprNames.PartialReadyTopic, "node-b"), twoNodes.Topics);
        Assert.DoesNotContain(twoNodes.Topics, t => t is DaprNames.UpdateArrivedTopic or DaprNames.PartialReadyTopic);
        // Partials stored on both nodes meet in one parent: at least one crossed, by pull, and nothing went through the state store.
        Assert.True(twoNodes.Pulls >= 1, $"{twoNodes.Pulls} cross-node pulls");
        Assert.Equal(0, oneNode.Pulls);
        Assert.DoesNotContain(twoNodes.SavedKeys, k => k.StartsWith(StoreKeys.UpdatePrefix, StringComparison.Ordinal) || k.StartsWith(StoreKeys.PartialPrefix, StringComparison.Ordinal));
        // Folded objects are deleted on the node that held them too, pulled or not.
        Assert.All(twoNodes.Left, left => Assert.Equal(0, left));
        Assert.All(oneNode.Left, left => Assert.Equal(0, left));
    }

    [Fact]
    public async Task An_object_held_by_a_node_without_a_known_agent_is_asked_for_again_not_dropped()
    {
        string folder = Directory.CreateTempSubdirectory("offload-cross-node-").FullName;
        try
        {
            using var local = SharedMemoryUpdateStore.Open(Path.Combine(folder, "a"), 1 << 20);
            await using var cluster = DaprCluster.FromComponents();
            await using var app = await FunctionsApp.StartAsync(cluster: cluster,
                services: s => s.AddSingleton<IUpdateStore>(sp => new NodeLocalUpdateStore(local, new DaprUpdateStore(sp.GetRequiredService<DaprClient>()), "node-a")));
            var round = new RoundScenario(app);
            await round.OpenAsync(expected: 2, maxFanIn: 2);
            var payload = IdentityCodec.Instance.Encode(Deltas[0], RoundScenario.Layout);
            var arrived = new UpdateArrived(UpdateReference.ForTask("c0", "t1"), "c0", "t1", 1, ModelVersion.Initial, 1, payload.Length, "node-z");

            var answer = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, arrived);

            Assert.Equal("RETRY", answer["status"]!.GetValue<string>());
            Assert.Contains("node-z", answer["reason"]!.GetValue<string>());
            Assert.Contains("--node-peer", answer["reason"]!.GetValue<string>());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_pull_into_a_full_node_store_is_push_back_asked_for_again_and_folds_once_there_is_room()
    {
        string folder = Directory.CreateTempSubdirectory("offload-cross-node-").FullName;
        try
        {
            using var local = SharedMemoryUpdateStore.Open(Path.Combine(folder, "a"), 1 << 20);
            using var owner = SharedMemoryUpdateStore.Open(Path.Combine(folder, "b"), 1 << 20);
            await using var agent = await NodeAgentServer.StartAsync(owner, IPAddress.Loopback, 0);
            using var peers = new NodeAgentPeers(new Dictionary<string, Uri> { ["node-b"] = agent.Address });
            await using var cluster = DaprCluster.FromComponents();
            await using var app = await FunctionsApp.StartAsync(cluster: cluster,
                services: s => s.AddSingleton<IUpdateStore>(sp => new NodeLocalUpdateStore(local, new DaprUpdateStore(sp.GetRequiredService<DaprClient>()), "node-a", peers)));
            var round = new RoundScenario(app);
            await round.OpenAsync(expected: 2, maxFanIn: 2);
            var payload = IdentityCodec.Instance.Encode(Deltas[0], RoundScenario.Layout);
            var reference = UpdateReference.ForTask("c0", "t1");
            await owner.WriteAllAsync(reference, payload);
            // This node's store is full of other objects, down to the last byte it could give.
            var fillers = new List<UpdateReference>();
            foreach (int size in new[] { 64 << 10, 4 << 10, 256, 16, 1 })
            {
                try
                {
                    while (true)
                    {
                        var filler = new UpdateReference($"partial/r9/l0/a{fillers.Count}/x");
                        // With its length, as a pull reserves: the store gives exactly that room.
                        var writer = await local.OpenWriteAsync(filler, size);
                        fillers.Add(filler);
                        await writer.WriteAsync(new byte[size]);
                        await writer.CommitAsync();
                    }
                }
                catch (UpdateStoreFullException)
                {
                }
            }
            var arrived = new UpdateArrived(reference, "c0", "t1", 1, ModelVersion.Initial, 1, payload.Length, "node-b");

            var full = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, arrived);
            Assert.Equal("RETRY", full["status"]!.GetValue<string>());
            Assert.Contains("no room", full["reason"]!.GetValue<string>());
            // Push-back the leaf expects, not a failure it did not foresee (logged as an error).
            Assert.DoesNotContain("Unexpected", full["reason"]!.GetValue<string>());
            Assert.Equal(0, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());

            foreach (var filler in fillers) await local.DeleteAsync(filler);
            Assert.Equal("SUCCESS", (await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, arrived))["status"]!.GetValue<string>());
            Assert.Equal(1, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed record Run(float[] Model, List<string> Topics, long Pulls, string[] SavedKeys, long[] Left);

    /// <summary>One round of <see cref="Deltas"/> under fan-in 2, update i landing on <paramref name="nodeOf"/>(i).</summary>
    private static async Task<Run> RunAsync(Func<int, string> nodeOf)
    {
        string folder = Directory.CreateTempSubdirectory("offload-cross-node-").FullName;
        var stores = new List<SharedMemoryUpdateStore>();
        var agents = new List<NodeAgentServer>();
        var peers = new List<NodeAgentPeers>();
        var apps = new List<FunctionsApp>();
        await using var cluster = DaprCluster.FromComponents();
        try
        {
            foreach (string node in Nodes)
            {
                Directory.CreateDirectory(Path.Combine(folder, node));
                stores.Add(SharedMemoryUpdateStore.Open(Path.Combine(folder, node, "node-store"), 8 << 20));
                agents.Add(await NodeAgentServer.StartAsync(stores[^1], IPAddress.Loopback, 0));
            }
            var nodeStores = new NodeLocalUpdateStore[Nodes.Length];
            for (int n = 0; n < Nodes.Length; n++)
            {
                var others = new Dictionary<string, Uri>();
                for (int m = 0; m < Nodes.Length; m++)
                    if (m != n) others[Nodes[m]] = agents[m].Address;
                peers.Add(new NodeAgentPeers(others));
                int k = n;
                // The first app also hosts the round's actor (the gateway's, in the deployment).
                apps.Add(await FunctionsApp.StartAsync(cluster: cluster, actorHost: n == 0,
                    services: s => s.AddSingleton<IUpdateStore>(sp => nodeStores[k] = new NodeLocalUpdateStore(stores[k],
                        new DaprUpdateStore(sp.GetRequiredService<DaprClient>()), Nodes[k], peers[k]))));
            }
            var round = new RoundScenario(apps[0]);
            await round.OpenAsync(expected: Deltas.Length, maxFanIn: 2);
            for (int n = 0; n < Nodes.Length; n++) _ = apps[n].Services.GetRequiredService<IUpdateStore>();

            // As a gateway on each node would: the payload into that node's store, the event on that node's topic.
            using var client = new DaprClientBuilder().UseGrpcEndpoint(apps[0].Sidecar.GrpcEndpoint).UseHttpEndpoint(apps[0].Sidecar.HttpEndpoint).Build();
            var bus = new DaprEventBus(client, routeByNode: true);
            for (int i = 0; i < Deltas.Length; i++)
            {
                string node = nodeOf(i);
                var store = nodeStores[Array.IndexOf(Nodes, node)];
                var payload = IdentityCodec.Instance.Encode(Deltas[i], RoundScenario.Layout);
                var reference = UpdateReference.ForTask($"c{i}", "t1");
                await store.WriteAllAsync(reference, payload);
                await bus.PublishAsync(new UpdateArrived(reference, $"c{i}", "t1", 1, ModelVersion.Initial, Samples[i], payload.Length, node));
                var answers = await cluster.DeliverPendingAsync();
                Assert.All(answers, a => Assert.Equal("SUCCESS", a));
            }
            Assert.Empty(cluster.DeliveryErrors);
            var published = Assert.Single(cluster.Published, p => p.Topic == DaprNames.ModelPublishedTopic);
            var model = JsonSerializer.Deserialize<ModelPublished>(published.Json, EventJson.Options)!;
            var weights = Functions.Aggregation.ModelWeightsFormat.Decode(await nodeStores[0].ReadAllAsync(model.Reference), RoundScenario.Layout.TotalLength);
            long pulls = nodeStores.Sum(s => s.CrossNodePulls);
            return new Run(weights, cluster.Published.Select(p => p.Topic).ToList(), pulls, cluster.SavedKeys.ToArray(),
                stores.Select(s => (long)s.ReadStats().Committed + s.ReadStats().Pending).ToArray());
        }
        finally
        {
            foreach (var app in apps) await app.DisposeAsync();
            foreach (var agent in agents) await agent.DisposeAsync();
            foreach (var p in peers) p.Dispose();
            foreach (var s in stores) s.Dispose();
            Directory.Delete(folder, recursive: true);
        }
    }
}
