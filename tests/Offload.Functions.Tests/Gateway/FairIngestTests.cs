using Google.Protobuf;
using Grpc.Core;
using Offload.Aggregator.Rounds;
using Offload.Client.Federation;
using Offload.Core.Checksums;
using Offload.Core.Codec;
using Offload.Core.Protos;
using Offload.Gateway.Service;

namespace Offload.Functions.Tests.Gateway;

/// <summary>One device cannot hold the gateway's upload slots or memory: streams per task, idle and slow streams, declared lengths.</summary>
public class FairIngestTests
{
    private const int Parameters = 4096;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static Task<TestFederation> StartAsync(int minClients, int clients, GatewayOptions gateway, TimeProvider? time = null) =>
        TestFederation.StartAsync(TestFederation.FlatLayout(Parameters), new float[Parameters],
            new RoundOptions { MinClients = minClients, Rounds = 1, RoundDeadline = TimeSpan.FromHours(1) }, clients, gateway, time: time);

    private static byte[] Payload(float value)
    {
        var delta = new float[Parameters];
        Array.Fill(delta, value);
        return IdentityCodec.Instance.Encode(delta, TestFederation.FlatLayout(Parameters));
    }

    /// <summary>Opens an upload, sends its header and the first <paramref name="bytes"/> of the payload, and leaves it open.</summary>
    private static async Task<AsyncClientStreamingCall<SubmitUpdateRequest, SubmitUpdateReply>> HoldAsync(
        Core.Protos.Federation.FederationClient raw, int client, UpdateHeader header, byte[] payload, int bytes)
    {
        var call = raw.SubmitUpdate(TestFederation.As(client));
        try
        {
            await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Header = header });
            if (bytes > 0) await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = ByteString.CopyFrom(payload, 0, bytes) });
        }
        catch (Exception)
        {
            // Refused before the writes went through: the status is in the response.
        }
        return call;
    }

    private static async Task<RpcException> RefusalAsync(AsyncClientStreamingCall<SubmitUpdateRequest, SubmitUpdateReply> call) =>
        await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(Patience));

    [Fact]
    public async Task A_client_holding_many_streams_for_its_task_gets_one_and_honest_clients_are_still_accepted()
    {
        const int honest = 4, held = 20;
        await using var federation = await StartAsync(minClients: honest + 1, clients: honest + 1,
            new GatewayOptions { MaxConcurrentUploads = 8, UploadIdleTimeout = TimeSpan.FromHours(1) });
        var raw = federation.Raw();
        var task = await federation.Client(0).GetTaskAsync();
        var payload = Payload(0.5f);
        var header = UploadFaultTests.Header(task, payload);

        // The attacker's first stream holds the task's session; twenty more for the same task follow and are never finished.
        var first = await HoldAsync(raw, 0, header, payload, 4096);
        await UploadFaultTests.WaitUntilAsync(() => federation.Server.Metrics.BytesReceived >= 4096);
        var extra = await Task.WhenAll(Enumerable.Range(0, held).Select(_ => HoldAsync(raw, 0, header, payload, 4096)));
        foreach (var call in extra)
        {
            // Refused at once, not queued behind the first: none of them waits for a slot.
            var refused = await RefusalAsync(call);
            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            Assert.Contains("is streaming", refused.Status.Detail);
            Assert.NotNull(refused.Trailers.GetValue(FederationGateway.RetryAfterTrailer));
            call.Dispose();
        }
        Assert.Equal(held, federation.Server.Metrics.ConcurrentStreamRefusals);

        // With the attacker's stream still open, every honest device gets its update in.
        var receipts = await Task.WhenAll(Enumerable.Range(1, honest).Select(async i =>
        {
            var client = federation.Client(i, o => o with { MaxAttempts = 3 });
            var own = await client.GetTaskAsync();
            return await client.SubmitUpdateAsync(own, Payload(i), sampleCount: 10);
        })).WaitAsync(Patience);
        Assert.All(receipts, r => Assert.False(r.Duplicate));
        Assert.Equal(honest, federation.Server.Metrics.Accepted);
        Assert.Equal(1, federation.Server.Metrics.ActiveUploads); // Only the attacker's first stream.
        first.Dispose();
    }

    [Fact]
    public async Task A_client_streaming_for_several_tasks_gets_only_its_share_of_streams()
    {
        await using var federation = await TestFederation.StartAsync(TestFederation.FlatLayout(Parameters), new float[Parameters],
            new RoundOptions { MinClients = 2, Rounds = 1, RoundDeadline = TimeSpan.FromHours(1) }, clients: 2,
            new GatewayOptions { MaxUploadsPerClient = 2, UploadIdleTimeout = TimeSpan.FromHours(1) }, serve: c => new ManyTasksCoordinator(c));
        var raw = federation.Raw();
        var task = await federation.Client(0).GetTaskAsync();
        var payload = Payload(0.5f);
        var header = UploadFaultTests.Header(task, payload);
        var first = await HoldAsync(raw, 0, header, payload, 4096); // Records the real task, which the extra ids copy.
        await UploadFaultTests.WaitUntilAsync(() => federation.Server.Metrics.ActiveUploads == 1);

        var second = header.Clone();
        second.TaskId = ManyTasksCoordinator.Prefix + "2";
        using var secondCall = await HoldAsync(raw, 0, second, payload, 4096);
        await UploadFaultTests.WaitUntilAsync(() => federation.Server.Metrics.ActiveUploads == 2);
        var third = header.Clone();
        third.TaskId = ManyTasksCoordinator.Prefix + "3";
        using var thirdCall = await HoldAsync(raw, 0, third, payload, 4096);
        var refused = await RefusalAsync(thirdCall);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("the most one client may", refused.Status.Detail);
        Assert.Equal(2, federation.Server.Metrics.ActiveUploads);

        // Another client is unaffected by client 0's share.
        var other = federation.Client(1);
        Assert.False((await other.SubmitUpdateAsync(await other.GetTaskAsync(), Payload(1.5f), 10)).Duplicate);
        first.Dispose();
    }

    [Fact]
    public async Task An_idle_upload_is_ended_and_frees_its_slot_and_its_stored_bytes()
    {
        await using var federation = await StartAsync(minClients: 2, clients: 2,
            new GatewayOptions { MaxConcurrentUploads = 1, UploadIdleTimeout = TimeSpan.FromSeconds(1) });
        var raw = federation.Raw();
        var task = await federation.Client(0).GetTaskAsync();
        var payload = Payload(0.5f);

        using var idle = await HoldAsync(raw, 0, UploadFaultTests.Header(task, payload), payload, 8192);
        var ended = await RefusalAsync(idle);
        Assert.Equal(StatusCode.DeadlineExceeded, ended.StatusCode);
        Assert.Contains("No message arrived", ended.Status.Detail);
        await UploadFaultTests.WaitUntilAsync(() => federation.Server.Metrics.ActiveUploads == 0);
        Assert.Equal(1, federation.Server.Metrics.TimedOutUploads);
        Assert.Equal(0, federation.Store.LiveBytes);
        Assert.Equal(0, federation.Store.Count);

        // The one slot is free again: another device's upload, and the first device's own from byte 0, are accepted.
        var other = federation.Client(1);
        await other.SubmitUpdateAsync(await other.GetTaskAsync(), Payload(1.5f), 10);
        var receipt = await federation.Client(0).SubmitUpdateAsync(task, payload, 10);
        Assert.False(receipt.Duplicate);
        Assert.Equal(2, federation.Server.Metrics.Accepted);
    }

    [Fact]
    public async Task An_upload_below_the_minimum_rate_after_the_grace_period_is_ended_and_its_bytes_deleted()
    {
        var clock = new ManualTimeProvider();
        await using var federation = await StartAsync(minClients: 1, clients: 1,
            new GatewayOptions { MinUploadBytesPerSecond = 64 * 1024, UploadRateGrace = TimeSpan.FromSeconds(5), UploadIdleTimeout = TimeSpan.FromHours(1) }, clock);
        var raw = federation.Raw();
        var task = await federation.Client(0).GetTaskAsync();
        var payload = Payload(0.5f);
        using var call = raw.SubmitUpdate(TestFederation.As(0));
        await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Header = UploadFaultTests.Header(task, payload) });
        await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = ByteString.CopyFrom(payload, 0, 4096) });
        await UploadFaultTests.WaitUntilAsync(() => federation.Server.Metrics.BytesReceived >= 4096);

        clock.Advance(TimeSpan.FromSeconds(60)); // 8 KiB in a minute: far below 64 KiB/s.
        try
        {
            await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = ByteString.CopyFrom(payload, 4096, 4096) });
            await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = ByteString.CopyFrom(payload, 8192, payload.Length - 8192) });
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception)
        {
            // The gateway may end the call before the last writes.
        }
        var ended = await RefusalAsync(call);
        Assert.Equal(StatusCode.DeadlineExceeded, ended.StatusCode);
        Assert.Contains("bytes/s", ended.Status.Detail);
        Assert.Equal(0, federation.Server.Metrics.Accepted);
        Assert.Equal(0, federation.Store.LiveBytes);
    }

    [Fact]
    public async Task A_declared_length_beyond_any_valid_payload_for_the_model_is_refused_before_a_byte_is_stored()
    {
        await using var federation = await StartAsync(minClients: 1, clients: 1, new GatewayOptions()); // 64 MiB limit.
        var task = await federation.Client(0).GetTaskAsync();
        long largest = UpdatePayload.GetMaxValidLength(TestFederation.FlatLayout(Parameters), PayloadCodec.Identity);
        Assert.Equal(largest, task.MaxUpdateBytes); // Devices are told the real bound, not the 64 MiB limit.

        // A payload whose own header agrees with a declared 30 MiB: consistent, within --max-update-mb, and impossible for this model.
        var payload = Payload(0.5f);
        const int declared = 30 * 1024 * 1024;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), declared);
        var header = UploadFaultTests.Header(task, payload);
        header.TotalLength = declared;
        header.Crc32C = Crc32C.HashToUInt32(payload);
        var e = await Assert.ThrowsAsync<RpcException>(() => UploadFaultTests.SendAsync(federation.Raw(), 0, header, payload.AsMemory(0, 4096)));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains($"longer than {largest} bytes", e.Status.Detail);
        Assert.Equal(0, federation.Server.Metrics.BytesReceived);
        Assert.Equal(0, federation.Store.PeakLiveBytes);
    }
}
