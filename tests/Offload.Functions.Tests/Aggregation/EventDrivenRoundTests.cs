using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Offload.Aggregator.Events;
using Offload.Functions.Names;

namespace Offload.Functions.Tests.Aggregation;

/// <summary>A round through the functions as the sidecar drives them: CloudEvents in, actor calls, events out, delivered again.</summary>
public sealed class EventDrivenRoundTests
{
    [Fact]
    public async Task Bulk_and_single_deliveries_aggregate_hierarchically_and_publish_the_weighted_mean()
    {
        var observer = new CapturingModelObserver();
        await using var app = await FunctionsApp.StartAsync(gateway: s => s.AddSingleton<Offload.Functions.Aggregation.IModelPublishedObserver>(observer));
        var round = new RoundScenario(app);
        var status = await round.OpenAsync(expected: 5, maxFanIn: 2);
        Assert.Equal(new[] { 3, 2, 1 }, status["aggregatorsPerLevel"]!.AsArray().Select(n => n!.GetValue<int>()));

        float[][] deltas = [[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 4], [1, 1, 1, 1]];
        long[] samples = [1, 2, 3, 4, 10];
        var events = new UpdateArrived[5];
        for (int i = 0; i < 5; i++) events[i] = await round.StoreUpdateAsync($"c{i}", deltas[i], samples[i]);

        var bulk = await round.PostBulkAsync(events[0], events[1], events[2]);
        var statuses = bulk["statuses"]!.AsArray();
        Assert.Equal(["e0", "e1", "e2"], statuses.Select(s => s!["entryId"]!.GetValue<string>()));
        Assert.True(statuses.All(s => s!["status"]!.GetValue<string>() == "SUCCESS"), bulk.ToJsonString());
        foreach (var e in events[3..])
            Assert.Equal("SUCCESS", (await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, e))["status"]!.GetValue<string>());

        var answers = await app.Sidecar.DeliverPendingAsync();
        Assert.All(answers, a => Assert.Contains("SUCCESS", a));
        var topics = app.Sidecar.Published.Select(p => p.Topic).ToList();
        Assert.Equal(3 + 2, topics.Count(t => t == DaprNames.PartialReadyTopic));
        Assert.Single(topics, DaprNames.ModelPublishedTopic);

        // FedAvg: initial + sum(n_i * delta_i) / sum(n_i).
        double total = samples.Sum();
        var expected = new float[4];
        for (int j = 0; j < 4; j++)
            expected[j] = RoundScenario.Initial[j] + (float)(Enumerable.Range(0, 5).Sum(i => samples[i] * deltas[i][j]) / total);
        var model = await round.ModelAsync(1);
        for (int j = 0; j < 4; j++) Assert.Equal(expected[j], model[j], 5);

        // The gateway function received ModelPublished and read the same model back.
        var (published, weights) = Assert.Single(observer.Seen);
        Assert.Equal((1L, 1L, 5), (published.Round, published.Version.Value, published.Updates));
        Assert.Equal(model, weights);

        var final = await round.CallActorAsync("GetStatus");
        Assert.True(final["published"]!.GetValue<bool>());
        Assert.Equal(5, final["arrivals"]!.GetValue<int>());
        // Payloads and partials are gone once folded; only the two models remain.
        Assert.All(app.Sidecar.StateKeys, k => Assert.StartsWith("model/", k));
    }

    [Fact]
    public async Task A_duplicate_delivery_counts_once()
    {
        await using var app = await FunctionsApp.StartAsync();
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 2, maxFanIn: 4);
        var first = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);
        var second = await round.StoreUpdateAsync("c1", [3, 3, 3, 3], 1);

        var bulk = await round.PostBulkAsync(first, first);
        Assert.All(bulk["statuses"]!.AsArray(), s => Assert.Equal("SUCCESS", s!["status"]!.GetValue<string>()));
        Assert.Equal("SUCCESS", (await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, first))["status"]!.GetValue<string>());
        Assert.Equal(1, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());

        await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, second);
        await app.Sidecar.DeliverPendingAsync();
        // Delivered again after the round closed: still counted once, nothing republished.
        int published = app.Sidecar.Published.Count;
        var again = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, second);
        Assert.NotEqual("RETRY", again["status"]!.GetValue<string>());
        Assert.Equal(published, app.Sidecar.Published.Count);

        var model = await round.ModelAsync(1);
        Assert.Equal(RoundScenario.Initial.Select(w => w + 2f), model);
    }

    [Fact]
    public async Task The_deadline_reminder_closes_a_round_with_what_arrived()
    {
        await using var app = await FunctionsApp.StartAsync();
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 4, maxFanIn: 2, last: true);
        Assert.Contains(app.Sidecar.Reminders.Keys, k => k.EndsWith("/" + DaprNames.DeadlineReminder, StringComparison.Ordinal));
        await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, await round.StoreUpdateAsync("c0", [2, 2, 2, 2], 5));

        // The sidecar fires the reminder on the actor host's reminder route, inside the actor's turn.
        var remind = await app.Cluster.FireReminderAsync(DaprNames.RoundActorType, "round-1", DaprNames.DeadlineReminder);
        Assert.True(remind.IsSuccessStatusCode, await remind.Content.ReadAsStringAsync());
        await app.Sidecar.DeliverPendingAsync();

        var status = await round.CallActorAsync("GetStatus");
        Assert.True(status["deadlinePassed"]!.GetValue<bool>());
        Assert.Equal(1, status["publishedVersion"]!.GetValue<long>());
        Assert.Equal(RoundScenario.Initial.Select(w => w + 2f), await round.ModelAsync(1));
        Assert.Empty(app.Sidecar.Reminders);

        // Late arrivals are not folded into a closed round; after the last round they have nowhere to go.
        var lateUpdate = await round.StoreUpdateAsync("c1", [9, 9, 9, 9], 5);
        var late = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, lateUpdate);
        Assert.Equal("SUCCESS", late["status"]!.GetValue<string>());
        Assert.Equal(-1, await round.Store.GetLengthAsync(lateUpdate.Reference));
        Assert.Equal(1, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_close_method_closes_a_round_with_no_update_and_keeps_the_model()
    {
        await using var app = await FunctionsApp.StartAsync();
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 3, maxFanIn: 2);
        var closed = await round.CallActorAsync("Close");
        Assert.True(closed["deadlinePassed"]!.GetValue<bool>());
        await app.Sidecar.DeliverPendingAsync();
        var model = app.Sidecar.Published.Single(p => p.Topic == DaprNames.ModelPublishedTopic);
        Assert.Equal(0, JsonNode.Parse(model.Json)!["updates"]!.GetValue<int>());
        Assert.Equal(RoundScenario.Initial, await round.ModelAsync(1));
    }

    [Fact]
    public async Task An_update_after_its_round_closed_goes_to_the_next_round_once_that_is_open()
    {
        await using var app = await FunctionsApp.StartAsync();
        var first = new RoundScenario(app);
        await first.OpenAsync(expected: 1, maxFanIn: 2);
        await first.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, await first.StoreUpdateAsync("c0", [1, 1, 1, 1], 1));
        await app.Sidecar.DeliverPendingAsync();
        Assert.True((await first.CallActorAsync("GetStatus"))["published"]!.GetValue<bool>());

        // Round 2 is not open yet: the sidecar is asked to deliver again later, and the payload stays.
        var late = await first.StoreUpdateAsync("c1", [3, 3, 3, 3], 1);
        var answer = await first.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, late);
        Assert.Equal("RETRY", answer["status"]!.GetValue<string>());
        Assert.True(await first.Store.GetLengthAsync(late.Reference) > 0);

        var second = new RoundScenario(app, round: 2);
        await second.OpenAsync(expected: 1, maxFanIn: 2, last: true);
        answer = await first.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, late);
        Assert.Equal("SUCCESS", answer["status"]!.GetValue<string>());
        var status = await second.CallActorAsync("GetStatus");
        Assert.Equal(1, status["arrivals"]!.GetValue<int>());
        Assert.Equal(1, (await first.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
    }

    [Fact]
    public async Task After_its_first_event_an_instance_asks_the_actor_only_for_arrivals()
    {
        await using var app = await FunctionsApp.StartAsync();
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 4, maxFanIn: 4);
        for (int i = 0; i < 3; i++)
            await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, await round.StoreUpdateAsync($"c{i}", [1, 1, 1, 1], 1));
        var calls = app.Sidecar.ActorCalls.ToArray();
        Assert.Equal(1, calls.Count(c => c == "round-1/GetStatus"));
        Assert.Equal(3, calls.Count(c => c == "round-1/Arrive"));
    }
}
