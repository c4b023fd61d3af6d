using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Aggregator.Events;
using Offload.Aggregator.Storage;
using Offload.Core.Model;
using Offload.Functions.Names;
using Offload.Functions.Subscriptions;
using Offload.Functions.Tests.Sidecar;

namespace Offload.Functions.Tests.Subscriptions;

/// <summary>Every route reads an event in each form daprd delivers it: CloudEvent data, CloudEvent data_base64 (a raw publisher's), and the bare event.</summary>
public sealed class EventFormsTests
{
    private static readonly PartialReady Partial = new(new UpdateReference("partial/r7/l0/a0/x"), 7, 0, 0, 1, 1);
    private static readonly UpdateArrived Update = new(new UpdateReference("update/c/t"), "c", "t", 7, ModelVersion.Initial, 1, 64, "node"); // 64 bytes: no stored update is smaller than its header and CRC

    public static TheoryData<string> Forms => ["data", "data_base64", "raw"];

    private static JsonNode Form(string form, string topic, object @event)
    {
        var json = JsonSerializer.SerializeToNode(@event, @event.GetType(), EventJson.Options)!;
        return form switch
        {
            "data" => SidecarStandIn.CloudEvent(topic, json),
            "data_base64" => SidecarStandIn.RawPayloadCloudEvent(topic, Encoding.UTF8.GetBytes(json.ToJsonString())),
            _ => json,
        };
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task A_single_event_route_reads_the_event_in_each_form(string form)
    {
        await using var app = await FunctionsApp.StartAsync();
        string contentType = form == "raw" ? "application/json" : "application/cloudevents+json";
        var response = await app.Client.PostAsync(DaprNames.PartialReadyRoute, new StringContent(Form(form, DaprNames.PartialReadyTopic, Partial).ToJsonString(), Encoding.UTF8, contentType));
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        // Read as a PartialReady: refused for what it says (no round 7), not for its shape.
        Assert.Equal("DROP", answer["status"]!.GetValue<string>());
        Assert.Contains("Round 7 is not open", answer["reason"]!.GetValue<string>());
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task A_bulk_entry_reads_the_event_in_each_form(string form)
    {
        await using var app = await FunctionsApp.StartAsync();
        var bulk = new JsonObject
        {
            ["id"] = "b", ["pubsubname"] = DaprNames.PubSub, ["topic"] = DaprNames.UpdateArrivedTopic, ["type"] = "com.dapr.event.sent",
            ["entries"] = new JsonArray(new JsonObject { ["entryId"] = "e", ["event"] = Form(form, DaprNames.UpdateArrivedTopic, Update), ["contentType"] = "application/cloudevents+json" }),
        };
        var response = await app.Client.PostAsync(DaprNames.UpdateArrivedRoute, new StringContent(bulk.ToJsonString(), Encoding.UTF8, "application/json"));
        var status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["statuses"]![0]!;
        Assert.Equal("DROP", status["status"]!.GetValue<string>());
        Assert.Contains("Round 7 is not open", status["reason"]!.GetValue<string>());
    }
}
