using System.Text.Json.Nodes;
using Dapr.Client;
using Offload.Aggregator.Events;
using Offload.Aggregator.Storage;
using Offload.Core.Model;
using Offload.Functions.Events;
using Offload.Functions.Names;
using Offload.Functions.Tests.Sidecar;

namespace Offload.Functions.Tests.Events;

public sealed class DaprEventBusTests
{
    [Fact]
    public async Task Events_go_to_their_topics_as_small_claim_checks_single_and_bulk()
    {
        await using var sidecar = await SidecarStandIn.StartAsync();
        using var client = new DaprClientBuilder().UseGrpcEndpoint(sidecar.GrpcEndpoint).Build();
        var bus = new DaprEventBus(client);
        var arrived = new UpdateArrived(UpdateReference.ForTask("c0", "t1"), "c0", "t1", 1, ModelVersion.Initial, 10, 1 << 20, "node-0");

        await bus.PublishAsync(arrived);
        await bus.PublishAsync(new ModelPublished(new UpdateReference("model/v1"), 1, new ModelVersion(1), 3));
        await bus.PublishManyAsync([new PartialReady(new UpdateReference("partial/r1/l0/a0"), 1, 0, 0, 2, 3), new PartialReady(new UpdateReference("partial/r1/l0/a1"), 1, 0, 1, 1, 1)]);

        var published = sidecar.Published.ToArray();
        Assert.Equal([DaprNames.UpdateArrivedTopic, DaprNames.ModelPublishedTopic, DaprNames.PartialReadyTopic, DaprNames.PartialReadyTopic], published.Select(p => p.Topic));
        var first = JsonNode.Parse(published[0].Json)!;
        Assert.Equal("update/c0/t1", first["reference"]!["key"]!.GetValue<string>());
        // A claim check: a 1 MiB update travels as a few hundred bytes.
        Assert.True(published[0].Json.Length < 400, published[0].Json);
        Assert.Throws<NotSupportedException>(() => bus.Subscribe<UpdateArrived>((_, _) => ValueTask.CompletedTask));
        Assert.Throws<ArgumentException>(() => EventTopics.For(typeof(RoundClosed)));
    }

    [Fact]
    public async Task Routed_by_node_an_event_naming_a_node_goes_on_that_nodes_topic_and_a_bulk_call_is_split_by_topic()
    {
        await using var sidecar = await SidecarStandIn.StartAsync();
        using var client = new DaprClientBuilder().UseGrpcEndpoint(sidecar.GrpcEndpoint).Build();
        var bus = new DaprEventBus(client, routeByNode: true);

        await bus.PublishAsync(new UpdateArrived(UpdateReference.ForTask("c0", "t1"), "c0", "t1", 1, ModelVersion.Initial, 10, 1 << 20, "node-a"));
        // A model names no node: every node's gateway and top read the shared store.
        await bus.PublishAsync(new ModelPublished(new UpdateReference("model/v1"), 1, new ModelVersion(1), 3));
        await bus.PublishManyAsync([new AggregatorDue(1, 0, 0, "node-a"), new AggregatorDue(1, 0, 1, "node-b"), new AggregatorDue(1, 0, 2), new AggregatorDue(1, 0, 3, "node-a")]);
        await bus.PublishAsync(new PartialReady(new UpdateReference("partial/r1/l0/a0/x"), 1, 0, 0, 2, 3, "node-b"));

        var topics = sidecar.Published.Select(p => p.Topic).ToArray();
        Assert.Equal("update-arrived.node-a", topics[0]);
        Assert.Equal(DaprNames.ModelPublishedTopic, topics[1]);
        // One bulk call per topic: two for node-a, one for node-b, one on the shared topic for the leaf that names no node.
        Assert.Equal([DaprNames.AggregatorDueTopic, "aggregator-due.node-a", "aggregator-due.node-a", "aggregator-due.node-b"], topics[2..6].Order(StringComparer.Ordinal));
        Assert.Equal("partial-ready.node-b", topics[6]);
        // A name that cannot be a topic segment is refused before anything is published.
        await Assert.ThrowsAsync<ArgumentException>(async () => await bus.PublishAsync(new AggregatorDue(1, 0, 0, "node a/../x")));
        Assert.Equal(7, sidecar.Published.Count);
    }
}
