using System.Text;
using System.Text.Json.Nodes;
using Dapr;
using Dapr.Client;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Storage;
using Offload.Functions.Aggregation;
using Offload.Functions.Names;
using Offload.Functions.Storage;

namespace Offload.Functions.Tests.Sidecar;

/// <summary>The stand-in fails where daprd would: each behaviour the apps depend on, checked on its own.</summary>
public sealed class SidecarStandInTests
{
    private static DaprClient Client(SidecarStandIn sidecar) => new DaprClientBuilder().UseGrpcEndpoint(sidecar.GrpcEndpoint).UseHttpEndpoint(sidecar.HttpEndpoint).Build();

    [Theory]
    [InlineData(null, false)]
    [InlineData("appid", false)]
    [InlineData("none", true)]
    [InlineData("name", true)]
    public async Task State_keys_are_prefixed_per_app_by_the_components_key_prefix(string? keyPrefix, bool shared)
    {
        using var components = ComponentsFolder.WithStateStore(keyPrefix, actorStateStore: false, DaprNames.GatewayAppId, DaprNames.FunctionsAppId);
        await using var cluster = DaprCluster.FromComponents(components.Path);
        using var gateway = Client(await cluster.StartSidecarAsync(DaprNames.GatewayAppId));
        using var functions = Client(await cluster.StartSidecarAsync(DaprNames.FunctionsAppId));
        await gateway.SaveByteStateAsync(DaprNames.StateStore, "update/a", new byte[] { 1, 2, 3 });
        var seen = await functions.GetByteStateAsync(DaprNames.StateStore, "update/a");
        Assert.Equal(shared, !seen.IsEmpty);
        string stored = Assert.Single(cluster.StoredKeys());
        Assert.Equal(keyPrefix switch { "none" => "update/a", "name" => "offload-state||update/a", _ => "offload-gateway||update/a" }, stored);
    }

    [Fact]
    public async Task A_store_not_scoped_to_the_app_is_not_found_and_that_is_permanent()
    {
        using var components = ComponentsFolder.WithStateStore("none", actorStateStore: false, DaprNames.GatewayAppId);
        await using var cluster = DaprCluster.FromComponents(components.Path);
        using var functions = Client(await cluster.StartSidecarAsync(DaprNames.FunctionsAppId));
        var e = await Assert.ThrowsAnyAsync<DaprException>(() => functions.GetByteStateAsync(DaprNames.StateStore, "k"));
        Assert.Equal(StatusCode.InvalidArgument, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        Assert.False(TransientFailure.Is(e));
        Assert.True(TransientFailure.IsPermanentSidecarError(e));
    }

    [Fact]
    public async Task A_value_over_the_4_MB_body_limit_is_refused_for_good_and_the_update_store_splits_it()
    {
        await using var sidecar = await SidecarStandIn.StartAsync();
        using var client = Client(sidecar);
        var e = await Assert.ThrowsAnyAsync<DaprException>(() => client.SaveByteStateAsync(DaprNames.StateStore, "big", new byte[5 * 1024 * 1024]));
        Assert.Equal(StatusCode.ResourceExhausted, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        Assert.False(TransientFailure.Is(e));
        // JSON base64 makes it worse: 3.2 MB of bytes is over the limit once SaveStateAsync<byte[]> encodes it.
        await Assert.ThrowsAnyAsync<DaprException>(() => client.SaveStateAsync(DaprNames.StateStore, "b64", new byte[3_200_000]));

        var store = new DaprUpdateStore(client);
        var model = new byte[45 * 1024 * 1024 + 17];
        new Random(3).NextBytes(model);
        Assert.True(await store.WriteAllAsync(new UpdateReference("model/v1/x"), model));
        Assert.Equal(model, await store.ReadAllAsync(new UpdateReference("model/v1/x")));
        Assert.Equal(47, sidecar.StateKeys.Count); // 46 pieces of at most 1 MiB and the manifest.
    }

    [Fact]
    public async Task An_actor_type_no_app_hosts_answers_err_actor_no_address_which_is_transient()
    {
        await using var app = await FunctionsApp.StartAsync(actorHost: false);
        var answer = await app.Actors.PutAsync($"/v1.0/actors/{DaprNames.RoundActorType}/round-1/method/GetStatus", new StringContent(""));
        Assert.Equal(500, (int)answer.StatusCode);
        Assert.Equal("ERR_ACTOR_NO_ADDRESS", JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["errorCode"]!.GetValue<string>());
        var proxy = app.Services.GetService(typeof(RoundActors)) as RoundActors;
        var e = await Assert.ThrowsAnyAsync<Exception>(() => proxy!.GetStatusAsync(1, CancellationToken.None));
        Assert.True(TransientFailure.Is(e), e.ToString());
    }

    [Fact]
    public async Task Calls_to_one_actor_id_take_turns_and_none_is_lost()
    {
        await using var app = await FunctionsApp.StartAsync();
        var round = new Aggregation.RoundScenario(app);
        await round.OpenAsync(expected: 40, maxFanIn: 40);
        var arrivals = Enumerable.Range(0, 24).Select(i => round.CallActorAsync("Arrive", new Offload.Functions.Rounds.Arrival($"update/c{i}/t1", $"c{i}", 1, 0)));
        await Task.WhenAll(arrivals);
        Assert.Equal(24, (await round.CallActorAsync("GetStatus"))["arrivals"]!.GetValue<int>());
        Assert.Equal(1, app.Cluster.MaxActorOverlap);
    }

    [Fact]
    public async Task Bulk_deliveries_are_batched_as_redis_does_and_a_missing_entry_status_is_redelivered()
    {
        await using var cluster = DaprCluster.FromComponents();
        var sidecar = await cluster.StartSidecarAsync(DaprNames.FunctionsAppId);
        var seen = new List<string>();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        await using var app = builder.Build();
        app.MapGet("/dapr/subscribe", () => Results.Text("[{\"pubsubname\":\"" + DaprNames.PubSub + "\",\"topic\":\"t\",\"route\":\"/t\",\"bulkSubscribe\":{\"enabled\":true,\"maxMessagesCount\":100}}]", "application/json"));
        app.MapPost("/t", async (HttpRequest request) =>
        {
            var body = JsonNode.Parse(await new StreamReader(request.Body).ReadToEndAsync())!;
            var statuses = new JsonArray();
            foreach (var entry in body["entries"]!.AsArray())
            {
                string n = entry!["event"]!["data"]!["n"]!.GetValue<int>().ToString(System.Globalization.CultureInfo.InvariantCulture);
                lock (seen) seen.Add(n);
                // Even entries get no status at all: daprd reads that as RETRY.
                if (int.Parse(n, System.Globalization.CultureInfo.InvariantCulture) % 2 == 1)
                    statuses.Add(new JsonObject { ["entryId"] = entry["entryId"]!.GetValue<string>(), ["status"] = "SUCCESS" });
            }
            return Results.Json(new JsonObject { ["statuses"] = statuses });
        });
        await app.StartAsync();
        sidecar.App = app.GetTestClient();
        using var client = Client(sidecar);
        for (int i = 0; i < 25; i++) await client.PublishEventAsync(DaprNames.PubSub, "t", new { n = i });

        await cluster.DeliverPendingAsync(maxPasses: 1);
        Assert.All(cluster.Batches, b => Assert.InRange(b.Events, 1, DaprCluster.RedisConcurrency));
        Assert.Equal(25, cluster.Batches.Sum(b => b.Events));
        await cluster.DeliverPendingAsync(maxPasses: 1);
        // The 13 even entries came again; the 12 odd ones were acknowledged.
        Assert.Equal(25 + 13, seen.Count);
        Assert.Equal(13, seen.Skip(25).Count(n => int.Parse(n, System.Globalization.CultureInfo.InvariantCulture) % 2 == 0));
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_is_refused_and_one_without_an_etag_wins()
    {
        await using var sidecar = await SidecarStandIn.StartAsync();
        using var client = Client(sidecar);
        await client.SaveByteStateAsync(DaprNames.StateStore, "k", new byte[] { 1 });
        var (_, etag) = await client.GetByteStateAndETagAsync(DaprNames.StateStore, "k");
        Assert.True(await client.TrySaveByteStateAsync(DaprNames.StateStore, "k", new byte[] { 2 }, etag));
        // daprd answers Aborted ("possible etag mismatch"), which the SDK's TrySave reports as false.
        Assert.False(await client.TrySaveByteStateAsync(DaprNames.StateStore, "k", new byte[] { 3 }, etag));
        await client.SaveByteStateAsync(DaprNames.StateStore, "k", new byte[] { 4 });
        Assert.Equal(new byte[] { 4 }, (await client.GetByteStateAsync(DaprNames.StateStore, "k")).ToArray());
    }
}
