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
        Assert.Empty(app.Sidecar.Published);
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
}
