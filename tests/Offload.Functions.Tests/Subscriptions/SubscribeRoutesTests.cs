using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Offload.Functions.Names;

namespace Offload.Functions.Tests.Subscriptions;

public sealed class SubscribeRoutesTests
{
    [Fact]
    public async Task Subscribe_lists_the_functions_four_topics_their_routes_and_bulk_metadata()
    {
        await using var app = await FunctionsApp.StartAsync();
        var subscriptions = JsonNode.Parse(await app.Client.GetStringAsync("/dapr/subscribe"))!.AsArray();

        Assert.Equal(4, subscriptions.Count);
        var byTopic = subscriptions.ToDictionary(s => s!["topic"]!.GetValue<string>());
        foreach (var (topic, route) in new[] { (DaprNames.UpdateArrivedTopic, DaprNames.UpdateArrivedRoute), (DaprNames.PartialReadyTopic, DaprNames.PartialReadyRoute), (DaprNames.AggregatorDueTopic, DaprNames.AggregatorDueRoute), (DaprNames.RoundOpenedTopic, DaprNames.RoundOpenedRoute) })
        {
            var s = byTopic[topic]!;
            Assert.Equal(DaprNames.PubSub, s["pubsubName"]!.GetValue<string>());
            Assert.Equal(route.TrimStart('/'), (s["routes"]?["default"]?.GetValue<string>() ?? s["route"]!.GetValue<string>()).TrimStart('/'));
        }
        var bulk = byTopic[DaprNames.UpdateArrivedTopic]!["bulkSubscribe"]!;
        Assert.True(bulk["enabled"]!.GetValue<bool>());
        Assert.Equal(DaprNames.BulkMaxMessages, bulk["maxMessagesCount"]!.GetValue<int>());
        Assert.Equal(DaprNames.BulkMaxAwaitMilliseconds, bulk["maxAwaitDurationMs"]!.GetValue<int>());
        Assert.Null(byTopic[DaprNames.PartialReadyTopic]!["bulkSubscribe"]);
        // Only the gateway reads new models.
        Assert.False(byTopic.ContainsKey(DaprNames.ModelPublishedTopic));
    }

    [Fact]
    public async Task The_functions_host_no_actor_so_they_can_scale_to_zero()
    {
        await using var app = await FunctionsApp.StartAsync(actorHost: false);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await app.Client.GetAsync("/dapr/config")).StatusCode);
    }

    [Fact]
    public async Task With_a_named_nodes_store_the_functions_take_that_nodes_topics_too_at_routes_of_their_own()
    {
        var node = new Aggregator.Storage.InMemoryUpdateStore();
        await using var app = await FunctionsApp.StartAsync(services: s => s.AddSingleton<Aggregator.Storage.IUpdateStore>(sp =>
            new Functions.Storage.NodeLocalUpdateStore(node, new Functions.Storage.DaprUpdateStore(sp.GetRequiredService<Dapr.Client.DaprClient>()), "node-a")));
        var subscriptions = JsonNode.Parse(await app.Client.GetStringAsync("/dapr/subscribe"))!.AsArray();

        var byTopic = subscriptions.ToDictionary(s => s!["topic"]!.GetValue<string>());
        // The three of the node's store, and the shared four (a round's opening names no node).
        Assert.Equal(7, byTopic.Count);
        foreach (var (topic, route) in new[] { (DaprNames.UpdateArrivedTopic, DaprNames.UpdateArrivedRoute), (DaprNames.PartialReadyTopic, DaprNames.PartialReadyRoute), (DaprNames.AggregatorDueTopic, DaprNames.AggregatorDueRoute) })
        {
            var s = byTopic[NodeTopics.For(topic, "node-a")]!;
            Assert.Equal($"{route}/node-a".TrimStart('/'), (s["routes"]?["default"]?.GetValue<string>() ?? s["route"]!.GetValue<string>()).TrimStart('/'));
            Assert.True(byTopic.ContainsKey(topic));
        }
        Assert.True(byTopic[NodeTopics.For(DaprNames.UpdateArrivedTopic, "node-a")]!["bulkSubscribe"]!["enabled"]!.GetValue<bool>());
    }
}
