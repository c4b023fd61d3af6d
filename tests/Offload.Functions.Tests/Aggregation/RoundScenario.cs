using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Offload.Aggregator.Events;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Functions.Aggregation;
using Offload.Functions.Names;
using Offload.Functions.Rounds;
using Offload.Functions.Storage;
using Offload.Functions.Subscriptions;

namespace Offload.Functions.Tests.Aggregation;

/// <summary>A tiny round (4 parameters) driven through the app's routes the way the sidecar drives them.</summary>
internal sealed class RoundScenario(FunctionsApp app, long round = 1)
{
    public static readonly TensorLayout Layout = TensorLayout.Create([("w", [4])]);
    public static readonly float[] Initial = [1f, 2f, 3f, 4f];

    public long Round { get; } = round;

    public IUpdateStore Store => app.Services.GetRequiredService<IUpdateStore>();

    public async Task<JsonNode> OpenAsync(int expected, int maxFanIn, double deadlineSeconds = 300, string[]? clients = null, bool last = false)
    {
        await Store.WriteAllAsync(AggregatorStep.ModelReference(0), ModelWeightsFormat.Encode(Initial));
        var opening = new RoundOpening(Round, expected, maxFanIn, deadlineSeconds, AggregatorStep.ModelReference(0).Key, 0, TensorShape.Of(Layout), clients, last);
        return await CallActorAsync("Open", opening);
    }

    public async Task<JsonNode> CallActorAsync(string method, object? body = null)
    {
        var content = new StringContent(body is null ? "" : JsonSerializer.Serialize(body, EventJson.Options), Encoding.UTF8, "application/json");
        // Through the functions' sidecar, as the functions call it: placed on the actor host, one turn at a time.
        var response = await app.Actors.PutAsync($"/v1.0/actors/{DaprNames.RoundActorType}/{RoundActor.IdFor(Round)}/method/{method}", content);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>Stores client <paramref name="client"/>'s update (identity codec) and returns its event.</summary>
    public async Task<UpdateArrived> StoreUpdateAsync(string client, float[] delta, long samples)
    {
        var payload = IdentityCodec.Instance.Encode(delta, Layout);
        var reference = UpdateReference.ForTask(client, $"t{Round}");
        await Store.WriteAllAsync(reference, payload);
        return new UpdateArrived(reference, client, $"t{Round}", Round, ModelVersion.Initial, samples, payload.Length, "node-0");
    }

    public static JsonNode Data(object @event) => JsonSerializer.SerializeToNode(@event, @event.GetType(), EventJson.Options)!;

    public async Task<JsonNode> PostCloudEventAsync(string route, string topic, object @event)
    {
        var body = Sidecar.SidecarStandIn.CloudEvent(topic, Data(@event)).ToJsonString();
        var response = await app.Client.PostAsync(route, new StringContent(body, Encoding.UTF8, "application/cloudevents+json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    public async Task<JsonNode> PostBulkAsync(params UpdateArrived[] events)
    {
        var entries = new JsonArray();
        for (int i = 0; i < events.Length; i++)
            entries.Add(new JsonObject
            {
                ["entryId"] = $"e{i}", ["event"] = Sidecar.SidecarStandIn.CloudEvent(DaprNames.UpdateArrivedTopic, Data(events[i])),
                ["contentType"] = "application/cloudevents+json", ["metadata"] = new JsonObject(),
            });
        var bulk = new JsonObject { ["id"] = "b1", ["pubsubname"] = DaprNames.PubSub, ["topic"] = DaprNames.UpdateArrivedTopic, ["type"] = "com.dapr.event.sent", ["entries"] = entries };
        var response = await app.Client.PostAsync(DaprNames.UpdateArrivedRoute, new StringContent(bulk.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    /// <summary>The weights of model <paramref name="version"/> (0: the initial one; later: the one its ModelPublished names).</summary>
    public async Task<float[]> ModelAsync(long version)
    {
        var reference = version == 0 ? AggregatorStep.ModelReference(0) : PublishedModel(version).Reference;
        return ModelWeightsFormat.Decode(await Store.ReadAllAsync(reference), Layout.TotalLength);
    }

    /// <summary>The single ModelPublished event of <paramref name="version"/> the functions published.</summary>
    public ModelPublished PublishedModel(long version) =>
        Assert.Single(app.Sidecar.Published.Where(p => p.Topic == DaprNames.ModelPublishedTopic)
            .Select(p => JsonSerializer.Deserialize<ModelPublished>(p.Json, EventJson.Options)!), m => m.Version.Value == version);
}
