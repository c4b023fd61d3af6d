using System.Text;
using System.Text.Json.Nodes;
using Offload.Aggregator.Events;
using Offload.Aggregator.Storage;
using Offload.Core.Model;
using Offload.Functions.Aggregation;
using Offload.Functions.Names;
using Offload.Functions.Storage;

namespace Offload.Functions.Tests.Aggregation;

public sealed class PoisonAndTransientEventTests
{
    [Theory]
    [InlineData("System.IO.IOException")]
    [InlineData("System.TimeoutException")]
    public async Task A_failing_store_answers_retry_and_the_redelivery_is_folded(string exceptionType)
    {
        var store = new FailingUpdateStore();
        await using var app = await FunctionsApp.StartAsync(store);
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 1, maxFanIn: 2);
        var arrived = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);

        store.Failure = (Exception)Activator.CreateInstance(Type.GetType(exceptionType)!, "store unavailable (test)")!;
        var single = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, arrived);
        Assert.Equal("RETRY", single["status"]!.GetValue<string>());
        var bulk = await round.PostBulkAsync(arrived);
        Assert.Equal("RETRY", bulk["statuses"]![0]!["status"]!.GetValue<string>());
        Assert.Equal(0, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());

        store.Failure = null;
        Assert.Equal("SUCCESS", (await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, arrived))["status"]!.GetValue<string>());
        await app.Sidecar.DeliverPendingAsync();
        Assert.Equal(RoundScenario.Initial.Select(w => w + 1f), await round.ModelAsync(1));
    }

    [Fact]
    public async Task A_leaf_whose_emitting_step_failed_is_emitted_by_the_redelivery()
    {
        var store = new FailingUpdateStore();
        await using var app = await FunctionsApp.StartAsync(store);
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 2, maxFanIn: 2);
        var first = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);
        var second = await round.StoreUpdateAsync("c1", [3, 3, 3, 3], 1);
        Assert.Equal("SUCCESS", (await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, first))["status"]!.GetValue<string>());

        // The second arrival completes the leaf (the actor records it), then the store fails while the leaf is folded.
        store.Failure = new IOException("store unavailable (test)");
        store.ReadsBeforeFailure = 1;
        Assert.Equal("RETRY", (await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, second))["status"]!.GetValue<string>());
        Assert.Equal(2, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
        Assert.DoesNotContain(app.Sidecar.Published, p => p.Topic != DaprNames.RoundOpenedTopic); // Only the opening's pre-warm.

        // The redelivery counts once but hands the unfinished leaf out again.
        store.Failure = null;
        Assert.Equal("SUCCESS", (await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, second))["status"]!.GetValue<string>());
        await app.Sidecar.DeliverPendingAsync();
        Assert.Equal(RoundScenario.Initial.Select(w => w + 2f), await round.ModelAsync(1));
        Assert.Equal(2, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
    }

    [Fact]
    public async Task An_unavailable_state_store_behind_the_sidecar_answers_retry()
    {
        await using var app = await FunctionsApp.StartAsync();
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 1, maxFanIn: 2);
        var arrived = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);
        app.Sidecar.StateUnavailable = true;
        var answer = await round.PostBulkAsync(arrived);
        Assert.Equal("RETRY", answer["statuses"]![0]!["status"]!.GetValue<string>());
        app.Sidecar.StateUnavailable = false;
        Assert.Equal("SUCCESS", (await round.PostBulkAsync(arrived))["statuses"]![0]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Poisoned_events_answer_drop_with_a_reason()
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 2, maxFanIn: 2);

        // Malformed JSON, as a raw body and inside a bulk entry's CloudEvent.
        var raw = await app.Client.PostAsync(DaprNames.PartialReadyRoute, new StringContent("{not json", Encoding.UTF8, "application/json"));
        var rawAnswer = JsonNode.Parse(await raw.Content.ReadAsStringAsync())!;
        Assert.Equal("DROP", rawAnswer["status"]!.GetValue<string>());
        Assert.Contains("not JSON", rawAnswer["reason"]!.GetValue<string>());

        var envelope = await app.Client.PostAsync(DaprNames.UpdateArrivedRoute, new StringContent("{\"specversion\":", Encoding.UTF8, "application/cloudevents+json"));
        Assert.True(envelope.IsSuccessStatusCode, $"{(int)envelope.StatusCode}");
        Assert.Equal("DROP", JsonNode.Parse(await envelope.Content.ReadAsStringAsync())!["status"]!.GetValue<string>());

        var wrongShape = await round.PostCloudEventAsync(DaprNames.PartialReadyRoute, DaprNames.PartialReadyTopic, new { reference = 42 });
        Assert.Equal("DROP", wrongShape["status"]!.GetValue<string>());
        Assert.Contains("PartialReady", wrongShape["reason"]!.GetValue<string>());

        // An unknown round.
        var stranger = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1) with { Round = 7 };
        var unknown = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, stranger);
        Assert.Equal("DROP", unknown["status"]!.GetValue<string>());
        Assert.Contains("Round 7 is not open", unknown["reason"]!.GetValue<string>());

        // An invalid payload: bytes that are no update, and an update for another layout.
        var junk = UpdateReference.ForTask("c1", "t1");
        await round.Store.WriteAllAsync(junk, new byte[64]);
        var invalid = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic,
            new UpdateArrived(junk, "c1", "t1", 1, ModelVersion.Initial, 1, 64, "node-0"));
        Assert.Equal("DROP", invalid["status"]!.GetValue<string>());
        Assert.Contains("not a valid update", invalid["reason"]!.GetValue<string>());

        var otherLayout = TensorLayout.Create([("w", [3])]);
        var foreign = UpdateReference.ForTask("c2", "t1");
        var foreignPayload = Offload.Core.Codec.IdentityCodec.Instance.Encode(new float[3], otherLayout);
        await round.Store.WriteAllAsync(foreign, foreignPayload);
        var mismatch = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic,
            new UpdateArrived(foreign, "c2", "t1", 1, ModelVersion.Initial, 1, foreignPayload.Length, "node-0"));
        Assert.Equal("DROP", mismatch["status"]!.GetValue<string>());

        // A partial naming an aggregator the tree does not have.
        var partial = AggregatorStep.PartialReference(1, 0, 9, "attempt");
        var ghost = await round.PostCloudEventAsync(DaprNames.PartialReadyRoute, DaprNames.PartialReadyTopic, new PartialReady(partial, 1, 0, 9, 1, 1));
        Assert.Equal("DROP", ghost["status"]!.GetValue<string>());

        Assert.Equal(0, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
    }
}
