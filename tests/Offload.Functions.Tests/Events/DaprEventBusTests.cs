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
}
