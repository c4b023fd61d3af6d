using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Offload.Aggregator.Storage;
using Offload.Functions.Hosting;
using Offload.Functions.Names;
using Offload.Functions.Tests.Aggregation;

namespace Offload.Functions.Tests.Hosting;

/// <summary>
/// The actor host's routes, called as daprd calls them (<c>PUT /actors/{type}/{id}/method/{name}</c>):
/// a malformed call is answered 400 with the field it got wrong, never 500, and is not taken.
/// </summary>
public sealed class RoundActorCallGuardTests
{
    [Theory]
    [InlineData("round-1", "Arrive", "{not json", "body")]
    [InlineData("round-1", "Arrive", "[1, 2]", "body")]
    [InlineData("round-1", "Arrive", """{"contributionId":"model/v0","clientId":"c0","sampleCount":1,"baseVersion":0}""", "contributionId")]
    [InlineData("round-1", "Arrive", """{"contributionId":"update/c1/t1","clientId":"c0","sampleCount":1,"baseVersion":0}""", "contributionId")]
    [InlineData("round-1", "Arrive", """{"contributionId":"update/c0/t1","clientId":"c0","sampleCount":-5,"baseVersion":0}""", "sampleCount")]
    [InlineData("round-1", "Arrive", """{"contributionId":"update/c0/t1","clientId":"","sampleCount":1,"baseVersion":0}""", "clientId")]
    [InlineData("round-1", "PartialArrived", """{"level":0,"index":0,"reference":"model/v0","updateCount":1,"totalWeight":1}""", "reference")]
    [InlineData("round-1", "PartialArrived", """{"level":0,"index":0,"reference":"partial/r1/l0/a0/x","updateCount":1,"totalWeight":-1}""", "totalWeight")]
    [InlineData("round-1", "Claim", """{"level":-1,"index":0}""", "level")]
    [InlineData("round-1", "Release", """{"level":0,"index":-3}""", "index")]
    [InlineData("round-1", "ConfirmPublished", """{"version":1,"reference":"update/c0/t1"}""", "reference")]
    [InlineData("round-1", "ConfirmPublished", """{"version":0,"reference":"model/v0"}""", "version")]
    [InlineData("round-1", "Open", """{"round":2}""", "round")]
    [InlineData("round-1", "Frobnicate", "{}", "method")]
    [InlineData("round-0", "GetStatus", "", "id")]
    [InlineData("bogus", "GetStatus", "", "id")]
    public async Task A_malformed_actor_call_is_answered_400_naming_the_field(string id, string method, string body, string field)
    {
        await using var app = await FunctionsApp.StartAsync(new InMemoryUpdateStore());
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 4, maxFanIn: 2); // a well-formed call passes the guard

        var call = new HttpRequestMessage(HttpMethod.Put, $"/actors/{DaprNames.RoundActorType}/{id}/method/{method}")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        var response = await app.ActorHostSidecar!.App!.SendAsync(call);
        string text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {text}");
        var answer = JsonNode.Parse(text)!;
        Assert.Equal(RoundActorCallGuard.ErrorCode, answer["errorCode"]!.GetValue<string>());
        Assert.Equal(field, answer["field"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(answer["message"]!.GetValue<string>()));
        // Nothing was registered.
        Assert.Equal(0, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
    }
}
