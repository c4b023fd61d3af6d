using Offload.Aggregator.Storage;
using Offload.Functions.Names;
using Offload.Functions.Rounds;
using Offload.Functions.Tests.Aggregation;

namespace Offload.Functions.Tests.Rounds;

/// <summary>The actor through its method routes, as the sidecar invokes it.</summary>
public sealed class RoundActorTests
{
    [Fact]
    public async Task A_due_leaf_goes_to_one_emitter_at_a_time_and_again_once_released()
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 1, maxFanIn: 2);
        var arrived = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);

        // An emitter takes the leaf, then dies before emitting it.
        var ticket = await round.CallActorAsync(nameof(IRoundActor.Arrive), new Arrival(arrived.Reference.Key, "c0", 1, 0));
        Assert.True(ticket["complete"]!.GetValue<bool>());
        Assert.Equal("update/c0/t1", ticket["updates"]![0]!["contributionId"]!.GetValue<string>());

        // A redelivery within the lease counts once and does not hand the leaf to a second emitter; it
        // is answered RETRY, so the event comes back and takes the leaf over if the emitter is dead.
        var held = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, arrived);
        Assert.Equal("RETRY", held["status"]!.GetValue<string>());
        Assert.Contains("being emitted by another function", held["reason"]!.GetValue<string>());
        Assert.DoesNotContain(app.Sidecar.Published, p => p.Topic != DaprNames.RoundOpenedTopic); // Only the opening's pre-warm.
        Assert.Equal(1, (await round.CallActorAsync(nameof(IRoundActor.GetStatus)))["arrivals"]!.GetValue<int>());

        // Given back (or after the lease), the next redelivery emits it.
        await round.CallActorAsync(nameof(IRoundActor.Release), new AggregatorSlot(0, 0));
        Assert.Equal("SUCCESS", (await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, arrived))["status"]!.GetValue<string>());
        await app.Sidecar.DeliverPendingAsync();
        Assert.Equal(RoundScenario.Initial.Select(w => w + 1f), await round.ModelAsync(1));
    }

    [Fact]
    public async Task Opening_is_idempotent_and_validated()
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        var first = await round.OpenAsync(expected: 3, maxFanIn: 2);
        var again = await round.OpenAsync(expected: 9, maxFanIn: 4);
        Assert.Equal(3, again["expectedUpdates"]!.GetValue<int>());
        Assert.Equal(first.ToJsonString(), again.ToJsonString());
        Assert.Single(app.Sidecar.Reminders);

        var bad = new RoundOpening(2, 0, 2, 10, "model/v0", 0, TensorShape.Of(RoundScenario.Layout));
        // Through the sidecar as the gateway calls it: the actor refuses, daprd answers ERR_ACTOR_INVOKE_METHOD with the reason.
        var response = await app.Actors.PutAsync($"/v1.0/actors/{DaprNames.RoundActorType}/{RoundActor.IdFor(2)}/method/Open",
            new StringContent(System.Text.Json.JsonSerializer.Serialize(bad, Offload.Functions.Subscriptions.EventJson.Options), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(500, (int)response.StatusCode);
        var error = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("ERR_ACTOR_INVOKE_METHOD", error["errorCode"]!.GetValue<string>());
        Assert.Contains("ExpectedUpdates", error["message"]!.GetValue<string>());
        Assert.False((await new RoundScenario(app, round: 2).CallActorAsync(nameof(IRoundActor.GetStatus)))["known"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_deadline_announces_each_unclaimed_due_leaf_until_the_round_publishes_and_no_turn_folds()
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 4, maxFanIn: 2);
        int Due() => app.Sidecar.Published.Count(p => p.Topic == DaprNames.AggregatorDueTopic);

        await round.CallActorAsync(nameof(IRoundActor.Close));
        Assert.Equal(2, Due());
        Assert.DoesNotContain(app.Sidecar.Published, p => p.Topic == DaprNames.PartialReadyTopic); // Nothing folded inside the turn.
        // Unclaimed (the announcements were lost, or no function ran): the next firing announces them again.
        await app.Cluster.FireReminderAsync(DaprNames.RoundActorType, RoundActor.IdFor(1), DaprNames.DeadlineReminder);
        Assert.Equal(4, Due());
        // One claim hands a leaf out once; a second finds it held.
        var claim = await round.CallActorAsync(nameof(IRoundActor.Claim), new AggregatorSlot(0, 0));
        Assert.True(claim["complete"]!.GetValue<bool>());
        Assert.False((await round.CallActorAsync(nameof(IRoundActor.Claim), new AggregatorSlot(0, 0)))["complete"]!.GetValue<bool>());
        await round.CallActorAsync(nameof(IRoundActor.Release), new AggregatorSlot(0, 0));

        await app.Sidecar.DeliverPendingAsync();
        Assert.True((await round.CallActorAsync(nameof(IRoundActor.GetStatus)))["published"]!.GetValue<bool>());
        Assert.Empty(app.Sidecar.Reminders);
        int announced = Due();
        await round.CallActorAsync(nameof(IRoundActor.Close));
        Assert.Equal(announced, Due());
    }

    [Fact]
    public async Task Each_nodes_arrivals_fill_a_leaf_of_their_own_and_a_due_leaf_is_announced_for_its_node()
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        // 8 updates under fan-in 2: four leaves of two. The gateway's node is "node-h".
        await round.CallActorAsync(nameof(IRoundActor.Open), new RoundOpening(1, 8, 2, 300, "model/v0", 0, TensorShape.Of(RoundScenario.Layout), Node: "node-h"));
        string[] nodes = ["node-a", "node-b", "node-a", "node-b", "node-a", "node-b", "node-b"];
        var leaves = new List<int>();
        for (int i = 0; i < nodes.Length; i++)
        {
            var ticket = await round.CallActorAsync(nameof(IRoundActor.Arrive), new Arrival($"update/c{i}/t1", $"c{i}", 1, 0, Node: nodes[i]));
            leaves.Add(ticket["index"]!.GetValue<int>());
            if (ticket["complete"]!.GetValue<bool>())
                // The due leaf's inputs are one node's updates, each naming where it is stored.
                Assert.All(ticket["updates"]!.AsArray(), u => Assert.Equal(nodes[i], u!["node"]!.GetValue<string>()));
        }
        // Leaves 0 and 1 share a parent, as do 2 and 3. a takes leaf 0; b a subtree of its own (leaf 2); each
        // fills its leaf; then a takes leaf 0's sibling 1 and b leaf 2's sibling 3, not the room left in a's leaf 1.
        Assert.Equal([0, 2, 0, 2, 1, 3, 3], leaves);

        await round.CallActorAsync(nameof(IRoundActor.Close));
        // Leaf 1 is short of its fan-in: announced for node-a, whose store holds its update.
        var due = app.Sidecar.Published.Where(p => p.Topic == DaprNames.AggregatorDueTopic)
            .Select(p => System.Text.Json.JsonSerializer.Deserialize<Offload.Functions.Events.AggregatorDue>(p.Json, Offload.Functions.Subscriptions.EventJson.Options)!).ToList();
        var leaf = Assert.Single(due);
        Assert.Equal((0, 1, "node-a"), (leaf.Level, leaf.Index, leaf.Node));
    }

    [Fact]
    public async Task With_every_leaf_taken_an_arrival_goes_to_another_nodes_leaf_with_room_and_an_empty_leaf_is_announced_on_the_gateways_node()
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        await round.CallActorAsync(nameof(IRoundActor.Open), new RoundOpening(1, 6, 2, 300, "model/v0", 0, TensorShape.Of(RoundScenario.Layout), Node: "node-h"));
        string[] nodes = ["node-a", "node-b", "node-c", "node-d"];
        var leaves = new List<int>();
        for (int i = 0; i < nodes.Length; i++)
            leaves.Add((await round.CallActorAsync(nameof(IRoundActor.Arrive), new Arrival($"update/c{i}/t1", $"c{i}", 1, 0, Node: nodes[i])))["index"]!.GetValue<int>());
        // Three leaves under two parents (0 and 1 share one): a takes leaf 0, b the other subtree (leaf 2),
        // c the unused leaf left (1); d finds none unused and joins the first leaf with room.
        Assert.Equal([0, 2, 1, 0], leaves);

        var empty = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        await using (empty)
        {
            var none = new RoundScenario(empty);
            await none.CallActorAsync(nameof(IRoundActor.Open), new RoundOpening(1, 2, 2, 300, "model/v0", 0, TensorShape.Of(RoundScenario.Layout), Node: "node-h"));
            await none.CallActorAsync(nameof(IRoundActor.Close));
            var due = System.Text.Json.JsonSerializer.Deserialize<Offload.Functions.Events.AggregatorDue>(
                Assert.Single(empty.Sidecar.Published, p => p.Topic == DaprNames.AggregatorDueTopic).Json, Offload.Functions.Subscriptions.EventJson.Options)!;
            Assert.Equal("node-h", due.Node);
        }
    }
}
