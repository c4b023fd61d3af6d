using Google.Protobuf;
using Grpc.Core;
using Offload.Aggregator.Rounds;
using Offload.Client.Federation;
using Offload.Core.Protos;
using Offload.Core.Codec;
using Offload.Core.Checksums;
using Offload.Gateway.Service;

namespace Offload.Functions.Tests.Gateway;

/// <summary>Each way an upload can be wrong or fail, against a real gateway on loopback.</summary>
public class UploadFaultTests
{
    private const int Parameters = 4096;

    private static Task<TestFederation> StartAsync(int minClients = 2, GatewayOptions? gateway = null) =>
        TestFederation.StartAsync(TestFederation.FlatLayout(Parameters), new float[Parameters],
            new RoundOptions { MinClients = minClients, Rounds = 2, RoundDeadline = TimeSpan.FromHours(1) }, clients: 4, gateway);

    private static byte[] Payload(float value)
    {
        var delta = new float[Parameters];
        Array.Fill(delta, value);
        return IdentityCodec.Instance.Encode(delta, TestFederation.FlatLayout(Parameters));
    }

    internal static UpdateHeader Header(FederatedTask task, byte[] payload, string key = "key-1") => new()
    {
        TaskId = task.TaskId,
        IdempotencyKey = key,
        SampleCount = 10,
        BaseModelVersion = task.ModelVersion,
        Codec = UpdateCodec.Identity,
        TotalLength = payload.Length,
        Crc32C = Crc32C.HashToUInt32(payload),
        LayoutHash = task.LayoutHash,
    };

    internal static async Task<SubmitUpdateReply> SendAsync(Core.Protos.Federation.FederationClient raw, int client, UpdateHeader header, ReadOnlyMemory<byte> payload, int chunk = 4096)
    {
        using var call = raw.SubmitUpdate(TestFederation.As(client));
        try
        {
            await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Header = header });
            for (int at = (int)header.Offset; at < payload.Length; at += chunk)
                await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = ByteString.CopyFrom(payload.Span.Slice(at, Math.Min(chunk, payload.Length - at))) });
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is not RpcException)
        {
            // The server ended the call early; its status is in the response.
        }
        catch (RpcException)
        {
        }
        return await call.ResponseAsync;
    }

    [Fact]
    public async Task No_token_or_an_unknown_token_is_unauthenticated()
    {
        await using var federation = await StartAsync();
        var raw = federation.Raw();
        var none = await Assert.ThrowsAsync<RpcException>(() => raw.GetTaskAsync(new GetTaskRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, none.StatusCode);
        var wrong = await Assert.ThrowsAsync<RpcException>(() => raw.GetTaskAsync(new GetTaskRequest(),
            new CallOptions(new Metadata { { "authorization", "Bearer not-a-token-of-ours" } })).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        using var upload = raw.SubmitUpdate();
        var streamed = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            // The write itself may fail (even as a CANCELLED RpcException) once the gateway has ended the call; the status is in the response.
            try { await upload.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = ByteString.CopyFrom(1, 2, 3) }); } catch (Exception) { }
            await upload.ResponseAsync;
        });
        Assert.Equal(StatusCode.Unauthenticated, streamed.StatusCode);
        Assert.Equal(0, federation.Store.Count);
    }

    [Fact]
    public async Task Submitting_for_a_task_not_held_is_permission_denied()
    {
        await using var federation = await StartAsync();
        var task = await federation.Client(0).GetTaskAsync();
        var payload = Payload(0.5f);
        var raw = federation.Raw();
        var e = await Assert.ThrowsAsync<RpcException>(() => SendAsync(raw, client: 1, Header(task, payload), payload));
        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        var unknown = Header(task, payload);
        unknown.TaskId = "r1-no-such-task";
        e = await Assert.ThrowsAsync<RpcException>(() => SendAsync(raw, client: 0, unknown, payload));
        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Equal(0, federation.Store.Count);
        Assert.Equal(0, federation.Server.Metrics.Accepted);
    }

    [Fact]
    public async Task A_declared_length_over_the_limit_is_resource_exhausted_before_any_byte_is_stored()
    {
        await using var federation = await StartAsync(gateway: new GatewayOptions { MaxUpdateBytes = 8 * 1024 });
        var task = await federation.Client(0).GetTaskAsync();
        var payload = Payload(0.5f); // 16 KiB: twice the limit.
        var e = await Assert.ThrowsAsync<RpcException>(() => SendAsync(federation.Raw(), 0, Header(task, payload), payload));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Null(e.Trailers.GetValue(FederationGateway.RetryAfterTrailer)); // A size refusal is not worth retrying.
        Assert.Equal(0, federation.Server.Metrics.BytesReceived);
        Assert.Equal(0, federation.Store.PeakLiveBytes);
    }

    [Fact]
    public async Task Streaming_past_the_limit_under_a_false_length_stops_reading_at_the_limit()
    {
        await using var federation = await StartAsync(gateway: new GatewayOptions { MaxUpdateBytes = 20 * 1024 });
        var task = await federation.Client(0).GetTaskAsync();
        var payload = Payload(0.5f);
        var header = Header(task, payload); // Declares the true 16 KiB, within the limit...
        var oversized = new byte[1024 * 1024]; // ...then streams 1 MiB.
        payload.CopyTo(oversized, 0);
        var e = await Assert.ThrowsAsync<RpcException>(() => SendAsync(federation.Raw(), 0, header, oversized));
        Assert.Contains(e.StatusCode, new[] { StatusCode.InvalidArgument, StatusCode.ResourceExhausted });
        // Reading stopped within one chunk of the declared length: nowhere near the megabyte sent.
        Assert.True(federation.Server.Metrics.BytesReceived <= payload.Length, $"read {federation.Server.Metrics.BytesReceived} bytes");
        Assert.Equal(0, federation.Store.Count);
        Assert.Equal(0, federation.Store.LiveBytes);
    }

    [Fact]
    public async Task A_checksum_mismatch_is_invalid_argument_and_nothing_is_kept()
    {
        await using var federation = await StartAsync();
        var task = await federation.Client(0).GetTaskAsync();
        var payload = Payload(0.5f);
        var header = Header(task, payload);
        header.Crc32C ^= 1;
        var e = await Assert.ThrowsAsync<RpcException>(() => SendAsync(federation.Raw(), 0, header, payload));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("CRC-32C", e.Status.Detail);
        Assert.Equal(0, federation.Store.Count);
        Assert.Equal(0, federation.Server.Metrics.Accepted);
    }

    [Theory]
    [InlineData("layout")]
    [InlineData("length")]
    [InlineData("codec")]
    [InlineData("codec-mismatch")]
    [InlineData("magic")]
    [InlineData("payload-layout")]
    [InlineData("version")]
    [InlineData("samples")]
    [InlineData("key")]
    [InlineData("no-header")]
    public async Task An_undecodable_header_is_invalid_argument(string fault)
    {
        await using var federation = await StartAsync();
        var task = await federation.Client(0).GetTaskAsync();
        var payload = Payload(0.5f);
        var header = Header(task, payload);
        switch (fault)
        {
            case "layout": header.LayoutHash ^= 0xFF; break;
            case "length": header.TotalLength -= 4; break;
            case "codec": header.Codec = UpdateCodec.Unspecified; break;
            case "codec-mismatch": header.Codec = UpdateCodec.Fedzip; break;
            case "magic":
                payload[0] ^= 0xFF; // The payload's own header is garbage; the checksum still matches the bytes sent.
                header.Crc32C = Crc32C.HashToUInt32(payload);
                break;
            case "payload-layout":
                payload = IdentityCodec.Instance.Encode(new float[Parameters / 2], TestFederation.FlatLayout(Parameters / 2));
                header = Header(task, payload); // Consistent upload header, but the payload is for another model.
                break;
            case "version": header.BaseModelVersion += 1; break;
            case "samples": header.SampleCount = 0; break;
            case "key": header.IdempotencyKey = ""; break;
        }
        RpcException e;
        if (fault == "no-header")
        {
            using var call = federation.Raw().SubmitUpdate(TestFederation.As(0));
            e = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                try
                {
                    await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = ByteString.CopyFrom(payload) });
                    await call.RequestStream.CompleteAsync();
                }
                catch (Exception x) when (x is not RpcException) { }
                await call.ResponseAsync;
            });
        }
        else e = await Assert.ThrowsAsync<RpcException>(() => SendAsync(federation.Raw(), 0, header, payload));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal(0, federation.Store.Count);
        // The payload's own header is checked once its 28 bytes are in, before the rest is read.
        Assert.True(federation.Server.Metrics.BytesReceived <= 4096, $"read {federation.Server.Metrics.BytesReceived} bytes");
    }

    [Fact]
    public async Task The_same_idempotency_key_twice_is_accepted_once_and_answered_as_a_duplicate()
    {
        await using var federation = await StartAsync(minClients: 2);
        var task = await federation.Client(0).GetTaskAsync();
        var payload = Payload(0.5f);
        var raw = federation.Raw();
        string key = ResumeKey(task, payload);
        var first = await SendAsync(raw, 0, Header(task, payload, key), payload);
        var second = await SendAsync(raw, 0, Header(task, payload, key), payload);
        Assert.Equal(SubmitOutcome.Accepted, first.Outcome);
        Assert.Equal(SubmitOutcome.Duplicate, second.Outcome);
        Assert.Equal(first.UpdateId, second.UpdateId);
        var other = await Assert.ThrowsAsync<RpcException>(() => SendAsync(raw, 0, Header(task, payload, key: "another-key"), payload));
        Assert.Equal(StatusCode.AlreadyExists, other.StatusCode);
        Assert.Equal(1, federation.Server.Metrics.Accepted);
        Assert.Equal(1, federation.Server.Metrics.Duplicates);

        // The SDK, retrying the same update, is told it was already counted.
        var receipt = await federation.Client(0).SubmitUpdateAsync(task, payload, 10);
        Assert.True(receipt.Duplicate);

        // Close the round with a second client: the round holds exactly one update from client 0.
        var task1 = await federation.Client(1).GetTaskAsync();
        await federation.Client(1).SubmitUpdateAsync(task1, Payload(1.5f), 30);
        await WaitForRoundAsync(federation, 1);
        var round = Assert.Single(federation.Coordinator.Rounds);
        Assert.Equal(2, round.Updates);
        Assert.Equal(40, round.SampleCount);
        // FedAvg of 0.5 (weight 10) and 1.5 (weight 30): 1.25 everywhere.
        Assert.All(federation.Coordinator.Model.Weights.ToArray(), w => Assert.Equal(1.25f, w, 1e-6f));
    }

    [Fact]
    public async Task A_client_that_drops_mid_upload_resumes_and_the_update_counts_once()
    {
        await using var federation = await StartAsync(minClients: 1);
        var sdk = federation.Client(0);
        var task = await sdk.GetTaskAsync();
        var payload = Payload(0.25f);

        // First attempt: the header and the first 8 KiB of about 16 KiB, then the connection is cut.
        const int cutAt = 8 * 1024;
        var raw = federation.Raw();
        using (var cut = new CancellationTokenSource())
        {
            var options = TestFederation.As(0).WithCancellationToken(cut.Token);
            using var call = raw.SubmitUpdate(options);
            await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Header = Header(task, payload, key: ResumeKey(task, payload)) });
            for (int at = 0; at < cutAt; at += 1024)
                await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = ByteString.CopyFrom(payload, at, 1024) });
            await WaitUntilAsync(() => federation.Server.Metrics.BytesReceived >= cutAt);
            cut.Cancel();
            await Assert.ThrowsAnyAsync<Exception>(() => call.ResponseAsync);
        }
        var held = await raw.GetUploadOffsetAsync(new GetUploadOffsetRequest { TaskId = task.TaskId, IdempotencyKey = ResumeKey(task, payload) }, TestFederation.As(0));
        Assert.Equal(UploadState.Partial, held.State);
        Assert.Equal(cutAt, held.Offset);

        // The SDK asks for the offset and sends only the rest.
        var progress = new List<UploadProgress>();
        var receipt = await SubmitResumingAsync(sdk, task, payload, progress);
        Assert.False(receipt.Duplicate);
        await WaitForRoundAsync(federation, 1);
        Assert.Equal(1, federation.Server.Metrics.Accepted);
        Assert.Equal(1, Assert.Single(federation.Coordinator.Rounds).Updates);
        Assert.All(federation.Coordinator.Model.Weights.ToArray(), w => Assert.Equal(0.25f, w));
        // Every byte crossed once: the first half before the cut, the second after the resume.
        Assert.Equal(payload.Length, federation.Server.Metrics.BytesReceived);
        Assert.Equal(payload.Length - cutAt, receipt.BytesSent);
        Assert.All(progress, p => Assert.Equal(cutAt, p.ResumedFrom));
        Assert.Equal(payload.Length, progress[^1].BytesAcknowledged);
    }

    /// <summary>The key the SDK derives for an update, so the raw first attempt and the SDK's resume agree.</summary>
    private static string ResumeKey(FederatedTask task, byte[] payload) => $"{task.TaskId}/{Crc32C.HashToUInt32(payload):x8}/{payload.Length}";

    private static async Task<UploadReceipt> SubmitResumingAsync(FederatedClient sdk, FederatedTask task, byte[] payload, List<UploadProgress> progress)
    {
        // The SDK asks the gateway for its offset before sending.
        return await sdk.SubmitUpdateAsync(task, payload, 10, new SyncProgress(progress));
    }

    internal static async Task WaitForRoundAsync(TestFederation federation, int rounds)
    {
        await WaitUntilAsync(() => federation.Coordinator.Rounds.Count >= rounds);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition()) await Task.Delay(10, timeout.Token);
    }

    private sealed class SyncProgress(List<UploadProgress> into) : IProgress<UploadProgress>
    {
        public void Report(UploadProgress value)
        {
            lock (into) into.Add(value);
        }
    }
}
