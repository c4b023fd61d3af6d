using Offload.Aggregator.Events;
using Offload.Functions.Names;
using Offload.Functions.Tests.Aggregation;

namespace Offload.Functions.Tests.Subscriptions;

/// <summary>A stopping functions app takes no new event (RETRY, for redelivery) and finishes the fold in flight.</summary>
public sealed class DrainTests
{
    [Fact]
    public async Task While_draining_new_deliveries_are_answered_retry_and_the_fold_in_flight_finishes()
    {
        var store = new BlockingUpdateStore();
        await using var app = await FunctionsApp.StartAsync(store);
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 3, maxFanIn: 4);
        var first = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);
        var second = await round.StoreUpdateAsync("c1", [2, 2, 2, 2], 1);
        var third = await round.StoreUpdateAsync("c2", [3, 3, 3, 3], 1);

        store.Blocking = true;
        var inFlight = round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, first);
        await store.Entered;
        // The gate closes before DrainAsync first waits, so what follows arrives while draining.
        var drain = app.DrainAsync(TimeSpan.FromMinutes(5));
        Assert.False(drain.IsCompleted);
        store.Blocking = false;

        var single = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, second);
        Assert.Equal("RETRY", single["status"]!.GetValue<string>());
        Assert.Contains("stopping", single["reason"]!.GetValue<string>());
        var bulk = await round.PostBulkAsync(second, third);
        Assert.All(bulk["statuses"]!.AsArray(), s => Assert.Equal("RETRY", s!["status"]!.GetValue<string>()));

        store.Release();
        Assert.Equal("SUCCESS", (await inFlight)["status"]!.GetValue<string>());
        var summary = await drain;
        Assert.Equal(1, summary.Counts.Succeeded);
        Assert.Equal(3, summary.Counts.TurnedAway);
        Assert.Equal(0, summary.Counts.InFlight);
        Assert.StartsWith("Stopped: 1 events SUCCESS, 0 RETRY, 0 DROP; 3 turned away", summary.ToString());
        // Only the fold in flight was registered; the others wait for redelivery.
        Assert.Equal(1, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
    }
}
