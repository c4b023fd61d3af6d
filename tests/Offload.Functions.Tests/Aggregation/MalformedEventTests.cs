using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Offload.Aggregator.Events;
using Offload.Aggregator.Storage;
using Offload.Core.Model;
using Offload.Functions.Aggregation;
using Offload.Functions.Events;
using Offload.Functions.Names;
using Offload.Functions.Storage;

namespace Offload.Functions.Tests.Aggregation;

/// <summary>
/// The functions trust nothing an event names: each malformed event is answered DROP (so daprd does not
/// redeliver it for ever) with a reason naming the bad field, and nothing outside the round's own updates
/// is read or deleted. The global model and a real client's update stay in the store in every case.
/// </summary>
public sealed class MalformedEventTests
{
    [Fact]
    public async Task An_update_arrived_naming_the_global_model_is_dropped_and_the_model_stays_single_and_bulk()
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 1, maxFanIn: 2);
        var model = AggregatorStep.ModelReference(0);
        long modelBytes = (await round.Store.ReadAllAsync(model)).Length;
        // Sized as the model, so the old leaf read it, found it no update, and deleted it.
        var forged = new UpdateArrived(model, "c0", "t1", 1, ModelVersion.Initial, 1, modelBytes, "node-0");

        var single = await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, forged);
        AssertDropped(single, "UpdateArrived.reference");
        var bulk = (await round.PostBulkAsync(forged))["statuses"]![0]!;
        AssertDropped(bulk, "UpdateArrived.reference");

        Assert.Equal(RoundScenario.Initial, await round.ModelAsync(0));
        Assert.Equal(0, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("another client's update", "UpdateArrived.reference")]
    [InlineData("a partial sum", "UpdateArrived.reference")]
    [InlineData("negative round", "UpdateArrived.round")]
    [InlineData("empty client id", "UpdateArrived.clientId")]
    [InlineData("empty task id", "UpdateArrived.taskId")]
    [InlineData("absurd sample count", "UpdateArrived.sampleCount")]
    [InlineData("base version from the future", "UpdateArrived.baseVersion")]
    [InlineData("negative payload size", "UpdateArrived.payloadBytes")]
    [InlineData("a node that cannot be a topic", "UpdateArrived.node")]
    [InlineData("no node", "UpdateArrived.node")]
    public async Task A_malformed_update_arrived_is_dropped_naming_the_field_and_deletes_nothing(string malformation, string field)
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 2, maxFanIn: 2);
        var victim = await round.StoreUpdateAsync("c1", [5, 5, 5, 5], 1);
        var partial = AggregatorStep.PartialReference(1, 0, 0, "attempt");
        await round.Store.WriteAllAsync(partial, new byte[64]);
        var own = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);
        var malformed = malformation switch
        {
            // Client c0 naming c1's (valid) update: the old leaf folded c1's update as c0's.
            "another client's update" => own with { Reference = victim.Reference, PayloadBytes = victim.PayloadBytes },
            "a partial sum" => own with { Reference = partial, PayloadBytes = 64 },
            "negative round" => own with { Round = -1 },
            "empty client id" => own with { ClientId = "" },
            "empty task id" => own with { TaskId = "" },
            "absurd sample count" => own with { SampleCount = long.MaxValue },
            "base version from the future" => own with { BaseVersion = new ModelVersion(5) },
            "negative payload size" => own with { PayloadBytes = -1 },
            // The node becomes a topic segment and says which agent to pull from.
            "a node that cannot be a topic" => own with { Node = "node-a/../x" },
            "no node" => own with { Node = null! },
            _ => throw new ArgumentOutOfRangeException(nameof(malformation), malformation, "no such case"),
        };

        AssertDropped(await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, malformed), field);

        Assert.Equal(RoundScenario.Initial, await round.ModelAsync(0));
        Assert.NotNull(await round.Store.TryReadAllAsync(victim.Reference));
        Assert.NotNull(await round.Store.TryReadAllAsync(partial));
        Assert.Equal(0, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("the global model", "PartialReady.reference")]
    [InlineData("another aggregator's partial", "PartialReady.reference")]
    [InlineData("another round's partial", "PartialReady.reference")]
    [InlineData("a client's update", "PartialReady.reference")]
    [InlineData("negative weight", "PartialReady.totalWeight")]
    [InlineData("weight without updates", "PartialReady.totalWeight")]
    [InlineData("negative level", "PartialReady.level")]
    [InlineData("round zero", "PartialReady.round")]
    [InlineData("a node that cannot be a topic", "PartialReady.node")]
    public async Task A_malformed_partial_ready_is_dropped_naming_the_field_and_deletes_nothing(string malformation, string field)
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 4, maxFanIn: 2); // two leaves under a top
        var update = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);
        var sibling = AggregatorStep.PartialReference(1, 0, 1, "attempt");
        await round.Store.WriteAllAsync(sibling, new byte[64]);
        var own = new PartialReady(AggregatorStep.PartialReference(1, 0, 0, "attempt"), 1, 0, 0, 1, 1);
        var malformed = malformation switch
        {
            "the global model" => own with { Reference = AggregatorStep.ModelReference(0) },
            "another aggregator's partial" => own with { Reference = sibling },
            "another round's partial" => own with { Reference = AggregatorStep.PartialReference(2, 0, 0, "attempt") },
            "a client's update" => own with { Reference = update.Reference },
            "negative weight" => own with { TotalWeight = -1 },
            "weight without updates" => own with { UpdateCount = 0, TotalWeight = 3 },
            "negative level" => own with { Level = -1 },
            "round zero" => own with { Round = 0 },
            "a node that cannot be a topic" => own with { Node = new string('n', 200) },
            _ => throw new ArgumentOutOfRangeException(nameof(malformation), malformation, "no such case"),
        };

        AssertDropped(await round.PostCloudEventAsync(DaprNames.PartialReadyRoute, DaprNames.PartialReadyTopic, malformed), field);
        // Had the first been registered, the second completes the top, which would read (and delete) the first's reference.
        var completing = new PartialReady(AggregatorStep.PartialReference(1, 0, 1, "other"), 1, 0, 1, 1, 1);
        await round.PostCloudEventAsync(DaprNames.PartialReadyRoute, DaprNames.PartialReadyTopic, completing);

        Assert.Equal(RoundScenario.Initial, await round.ModelAsync(0));
        Assert.NotNull(await round.Store.TryReadAllAsync(update.Reference));
        Assert.NotNull(await round.Store.TryReadAllAsync(sibling));
    }

    [Theory]
    [InlineData("a middle or top", "AggregatorDue.level")]
    [InlineData("negative index", "AggregatorDue.index")]
    [InlineData("round zero", "AggregatorDue.round")]
    [InlineData("a round past the last", "AggregatorDue.round")]
    [InlineData("a node that cannot be a topic", "AggregatorDue.node")]
    public async Task A_malformed_aggregator_due_is_dropped_naming_the_field_and_deletes_nothing(string malformation, string field)
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 4, maxFanIn: 2);
        var update = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);
        var malformed = malformation switch
        {
            // The actor announces leaves only; the top is due when its children's partials are in.
            "a middle or top" => new AggregatorDue(1, 1, 0),
            "negative index" => new AggregatorDue(1, 0, -1),
            "round zero" => new AggregatorDue(0, 0, 0),
            "a round past the last" => new AggregatorDue(long.MaxValue, 0, 0),
            "a node that cannot be a topic" => new AggregatorDue(1, 0, 0, "node a"),
            _ => throw new ArgumentOutOfRangeException(nameof(malformation), malformation, "no such case"),
        };

        AssertDropped(await round.PostCloudEventAsync(DaprNames.AggregatorDueRoute, DaprNames.AggregatorDueTopic, malformed), field);

        Assert.Equal(RoundScenario.Initial, await round.ModelAsync(0));
        Assert.NotNull(await round.Store.TryReadAllAsync(update.Reference));
        Assert.DoesNotContain(app.Sidecar.Published, p => p.Topic != DaprNames.RoundOpenedTopic); // Only the opening's pre-warm.
    }

    [Theory]
    [InlineData("the initial model", "ModelPublished.reference")]
    [InlineData("a client's update", "ModelPublished.reference")]
    [InlineData("another version's model", "ModelPublished.reference")]
    [InlineData("a version past its round", "ModelPublished.version")]
    [InlineData("negative updates", "ModelPublished.updates")]
    public async Task A_malformed_model_published_is_dropped_naming_the_field_and_nothing_is_served(string malformation, string field)
    {
        var observer = new CapturingModelObserver();
        // The Dapr store through the stand-in, which the gateway's app shares (keyPrefix: none).
        await using var app = await FunctionsApp.StartAsync(gateway: s => s.AddSingleton<IModelPublishedObserver>(observer));
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 1, maxFanIn: 2);
        var update = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);
        var own = new ModelPublished(AggregatorStep.ModelReference(1, "attempt"), 1, new ModelVersion(1), 1);
        var malformed = malformation switch
        {
            // The gateway serves what it names and later deletes it as the round's base model.
            "the initial model" => own with { Reference = AggregatorStep.ModelReference(0) },
            "a client's update" => own with { Reference = update.Reference },
            "another version's model" => own with { Reference = AggregatorStep.ModelReference(2, "attempt") },
            "a version past its round" => own with { Version = new ModelVersion(2), Reference = AggregatorStep.ModelReference(2, "attempt") },
            "negative updates" => own with { Updates = -1 },
            _ => throw new ArgumentOutOfRangeException(nameof(malformation), malformation, "no such case"),
        };

        var body = Sidecar.SidecarStandIn.CloudEvent(DaprNames.ModelPublishedTopic, RoundScenario.Data(malformed)).ToJsonString();
        var response = await app.ActorHostSidecar!.App!.PostAsync(DaprNames.ModelPublishedRoute, new StringContent(body, Encoding.UTF8, "application/cloudevents+json"));
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}");
        AssertDropped(JsonNode.Parse(await response.Content.ReadAsStringAsync())!, field);

        Assert.Empty(observer.Seen);
        Assert.Equal(RoundScenario.Initial, await round.ModelAsync(0));
        Assert.NotNull(await round.Store.TryReadAllAsync(update.Reference));
    }

    [Fact]
    public async Task A_round_opened_is_acknowledged_and_a_malformed_one_dropped_naming_the_field()
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        Assert.Equal("SUCCESS", (await round.PostCloudEventAsync(DaprNames.RoundOpenedRoute, DaprNames.RoundOpenedTopic, new RoundOpened(1, 4)))["status"]!.GetValue<string>());
        AssertDropped(await round.PostCloudEventAsync(DaprNames.RoundOpenedRoute, DaprNames.RoundOpenedTopic, new RoundOpened(0, 4)), "RoundOpened.round");
        AssertDropped(await round.PostCloudEventAsync(DaprNames.RoundOpenedRoute, DaprNames.RoundOpenedTopic, new RoundOpened(1, 0)), "RoundOpened.expected_updates");
        Assert.Empty(app.Sidecar.Published); // No round was opened, and acknowledging publishes nothing.
    }

    [Fact]
    public void Every_event_the_functions_produce_passes_the_checks()
    {
        // The checks must refuse only what no function or gateway writes.
        var update = UpdateReference.ForTask("device-0001", "r3-0123456789abcdef");
        Assert.Null(MalformedEvent.ReasonFor(new UpdateArrived(update, "device-0001", "r3-0123456789abcdef", 3, new ModelVersion(2), 60, 1024, "node-0")));
        Assert.Null(MalformedEvent.ReasonFor(new PartialReady(AggregatorStep.PartialReference(3, 1, 2, "0a1b2c3d4e5f"), 3, 1, 2, 4, 240)));
        Assert.Null(MalformedEvent.ReasonFor(new PartialReady(AggregatorStep.PartialReference(3, 0, 0, "0a1b2c3d4e5f"), 3, 0, 0, 0, 0)));
        Assert.Null(MalformedEvent.ReasonFor(new AggregatorDue(3, 0, 7)));
        Assert.Null(MalformedEvent.ReasonFor(new RoundOpened(3, 4)));
        Assert.Null(MalformedEvent.ReasonFor(new ModelPublished(AggregatorStep.ModelReference(3, "0a1b2c3d4e5f"), 3, new ModelVersion(3), 4)));
    }

    private static void AssertDropped(JsonNode answer, string field)
    {
        Assert.Equal("DROP", answer["status"]!.GetValue<string>());
        Assert.Contains(field, answer["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
