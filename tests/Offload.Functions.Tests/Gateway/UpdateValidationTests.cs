using System.Buffers.Binary;
using Grpc.Core;
using Offload.Aggregator.Rounds;
using Offload.Core.Checksums;
using Offload.Core.Codec;
using Offload.Core.Protos;
using Offload.Gateway.Service;

namespace Offload.Functions.Tests.Gateway;

/// <summary>Nothing unfoldable or outsized is acknowledged: decoding, norm bounds (refuse or clip) and weight caps at the gateway.</summary>
public class UpdateValidationTests
{
    private const int Parameters = 4096;

    /// <summary>Where the first float of a one-tensor identity payload lies: its 28-byte header, then the 20-byte record header.</summary>
    private const int FirstValue = 48;

    private static Task<TestFederation> StartAsync(int minClients, int clients, GatewayOptions gateway, float initial) =>
        TestFederation.StartAsync(TestFederation.FlatLayout(Parameters), Enumerable.Repeat(initial, Parameters).ToArray(),
            new RoundOptions { MinClients = minClients, Rounds = 1, RoundDeadline = TimeSpan.FromHours(1) }, clients, gateway);

    private static byte[] Payload(float value)
    {
        var delta = new float[Parameters];
        Array.Fill(delta, value);
        return IdentityCodec.Instance.Encode(delta, TestFederation.FlatLayout(Parameters));
    }

    /// <summary>An honest update (0.01 everywhere, norm 0.64), or an attack on it.</summary>
    private static byte[] Update(string kind)
    {
        var payload = Payload(kind switch { "scaled" => 0.01f * 1e6f, "huge" => 3e38f, _ => 0.01f });
        if (kind is "nan" or "inf")
        {
            // The SDK's encoder refuses non-finite values; a hostile device writes them itself, with a matching CRC.
            BinaryPrimitives.WriteSingleLittleEndian(payload.AsSpan(FirstValue + 4 * 100), kind == "nan" ? float.NaN : float.PositiveInfinity);
            BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(payload.Length - 4), Crc32C.HashToUInt32(payload.AsSpan(0, payload.Length - 4)));
        }
        return payload;
    }

    private static async Task<SubmitUpdateReply> SendAsync(TestFederation federation, int client, byte[] payload, long samples = 10)
    {
        var task = await federation.Client(client).GetTaskAsync();
        var header = UploadFaultTests.Header(task, payload);
        header.SampleCount = samples;
        return await UploadFaultTests.SendAsync(federation.Raw(), client, header, payload);
    }

    [Theory]
    [InlineData("scaled", StatusCode.FailedPrecondition, "L2 norm")]
    [InlineData("huge", StatusCode.FailedPrecondition, "L2 norm")]
    [InlineData("nan", StatusCode.InvalidArgument, "not finite")]
    [InlineData("inf", StatusCode.InvalidArgument, "not finite")]
    public async Task An_unfoldable_or_outsized_first_update_is_refused_and_never_counted(string kind, StatusCode expected, string named)
    {
        // The global model is 1.0 everywhere (norm 64): the very first update is bounded by 10 x that.
        await using var federation = await StartAsync(minClients: 2, clients: 2, new GatewayOptions(), initial: 1f);
        var e = await Assert.ThrowsAsync<RpcException>(() => SendAsync(federation, 0, Update(kind)));
        Assert.Equal(expected, e.StatusCode);
        Assert.Contains(named, e.Status.Detail);
        var metrics = federation.Server.Metrics;
        Assert.Equal(0, metrics.Accepted);
        Assert.Equal(expected == StatusCode.InvalidArgument ? 1 : 0, metrics.RefusedByValidation);
        Assert.Equal(expected == StatusCode.FailedPrecondition ? 1 : 0, metrics.RefusedByNorm);
        Assert.Equal(0, federation.Store.LiveBytes);
        Assert.Equal(0, federation.Coordinator.Status.RoundUpdates);

        // An honest update still gets in.
        Assert.Equal(SubmitOutcome.Accepted, (await SendAsync(federation, 1, Update("honest"))).Outcome);
    }

    [Fact]
    public async Task Once_updates_are_known_the_bound_is_a_multiple_of_their_median_norm()
    {
        // An all-zero model bounds nothing by itself; five honest updates then set the bound.
        await using var federation = await StartAsync(minClients: 10, clients: 7, new GatewayOptions(), initial: 0f);
        for (int i = 0; i < 5; i++) await SendAsync(federation, i, Update("honest"));
        var e = await Assert.ThrowsAsync<RpcException>(() => SendAsync(federation, 5, Update("scaled")));
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("median norm", e.Status.Detail);
        Assert.Equal(5, federation.Server.Metrics.Accepted);
        Assert.Equal(SubmitOutcome.Accepted, (await SendAsync(federation, 6, Payload(0.05f))).Outcome); // 5x the median: within 10x.
    }

    [Theory]
    [InlineData("scaled")]
    [InlineData("huge")]
    public async Task Under_the_clip_policy_an_outsized_update_is_scaled_to_the_bound_and_folds(string kind)
    {
        await using var federation = await StartAsync(minClients: 2, clients: 2, new GatewayOptions { NormPolicy = UpdateNormPolicy.Clip }, initial: 1f);
        await SendAsync(federation, 0, Update("honest"));
        Assert.Equal(SubmitOutcome.Accepted, (await SendAsync(federation, 1, Update(kind))).Outcome);
        await federation.Coordinator.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, federation.Server.Metrics.ClippedByNorm);
        Assert.Equal(2, federation.Server.Metrics.Accepted);

        // Clipped to norm 640 (10 x the model's 64): 10 everywhere. FedAvg of 0.01 and 10 added to 1.
        var weights = federation.Coordinator.Model.Weights.ToArray();
        Assert.All(weights, w => Assert.Equal(1f + (0.01f + 10f) / 2, w, 1e-3f));
    }

    [Fact]
    public async Task Clipping_far_below_floats_normal_range_still_lands_on_the_bound()
    {
        // Model norm 0.064, so the bound is 0.64; a 3e38-valued update (norm 1.9e40) needs a factor of about 3e-41.
        await using var federation = await StartAsync(minClients: 1, clients: 1, new GatewayOptions { NormPolicy = UpdateNormPolicy.Clip }, initial: 1e-3f);
        Assert.Equal(SubmitOutcome.Accepted, (await SendAsync(federation, 0, Update("huge"))).Outcome);
        await federation.Coordinator.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(federation.Coordinator.Model.Weights.ToArray(), w => Assert.Equal(1e-3f + 0.01f, w, 1e-5f));
    }

    [Fact]
    public async Task A_fixed_sample_cap_bounds_the_weight_of_an_update()
    {
        await using var federation = await StartAsync(minClients: 2, clients: 2, new GatewayOptions { MaxSampleCount = 100 }, initial: 0f);
        await SendAsync(federation, 0, Payload(0.5f), samples: 10);
        Assert.Equal(SubmitOutcome.Accepted, (await SendAsync(federation, 1, Payload(1.5f), samples: 1_000_000_000)).Outcome);
        await federation.Coordinator.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, federation.Server.Metrics.CappedWeights);
        var round = Assert.Single(federation.Coordinator.Rounds);
        Assert.Equal(110, round.SampleCount); // UpdateArrived carried the capped count.
        Assert.All(federation.Coordinator.Model.Weights.ToArray(), w => Assert.Equal((0.5f * 10 + 1.5f * 100) / 110, w, 1e-5f));
    }

    [Fact]
    public async Task By_default_the_weight_cap_is_a_multiple_of_the_median_declared_count()
    {
        // Until five are known the cap is the floor (10,000); then 10 x the median declared count.
        await using var federation = await StartAsync(minClients: 7, clients: 7, new GatewayOptions(), initial: 0f);
        for (int i = 0; i < 5; i++) await SendAsync(federation, i, Payload(0.5f), samples: 2_000);
        await SendAsync(federation, 5, Payload(0.5f), samples: 1_000_000_000);
        await SendAsync(federation, 6, Payload(0.5f), samples: 2_000);
        await federation.Coordinator.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, federation.Server.Metrics.CappedWeights);
        Assert.Equal(6 * 2_000 + 20_000, Assert.Single(federation.Coordinator.Rounds).SampleCount); // 10 x the median 2,000.
    }

    [Fact]
    public void A_restarted_gateway_caps_weights_by_the_journaled_history_not_the_floor()
    {
        var bounds = new UpdateBounds(new GatewayOptions());
        Assert.Equal(10_000, bounds.SampleCap().Cap);
        bounds.Restore(Enumerable.Range(0, 5).Select(i => new AcceptedUpdate(
            new Aggregator.Events.UpdateArrived(Aggregator.Storage.UpdateReference.ForTask($"c{i}", $"t{i}"), $"c{i}", $"t{i}", 1, Core.Model.ModelVersion.Initial, 30_000, 100, "node"),
            "key", null)));
        // Before, a restarted gateway weighted a 30,000-sample update as 10,000 (the floor) beside journaled ones of 30,000.
        Assert.Equal(300_000, bounds.SampleCap().Cap);
    }
}
