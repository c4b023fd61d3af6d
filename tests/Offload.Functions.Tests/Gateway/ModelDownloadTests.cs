using Grpc.Core;
using Offload.Aggregator.Rounds;
using Offload.Client.Federation;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Core.Protos;
using Offload.Core.Checksums;

namespace Offload.Functions.Tests.Gateway;

/// <summary>Model downloads, full and as a FedZip-encoded change, against a real gateway on loopback.</summary>
public class ModelDownloadTests
{
    private const int Parameters = 4096;
    private static readonly TensorLayout Layout = TestFederation.FlatLayout(Parameters);

    private static Task<TestFederation> StartAsync(int minClients, int clients, DownstreamMode downstream = DownstreamMode.FedZip,
        Func<IRoundCoordinator, IRoundCoordinator>? serve = null) =>
        TestFederation.StartAsync(Layout, Initial(),
            new RoundOptions { MinClients = minClients, Rounds = 4, RoundDeadline = TimeSpan.FromHours(1), WaitRetry = TimeSpan.FromMilliseconds(20), Downstream = downstream },
            clients, serve: serve);

    private static float[] Initial()
    {
        var random = new Random(11);
        var weights = new float[Parameters];
        for (int i = 0; i < weights.Length; i++) weights[i] = random.NextSingle() - 0.5f;
        return weights;
    }

    /// <summary>A seeded update of varied magnitudes, so top-z has something to choose.</summary>
    private static byte[] Update(int seed)
    {
        var random = new Random(seed);
        var delta = new float[Parameters];
        for (int i = 0; i < delta.Length; i++) delta[i] = (random.NextSingle() - 0.5f) * 0.1f;
        return IdentityCodec.Instance.Encode(delta, Layout);
    }

    private static async Task<FederatedTask> TaskAsync(FederatedClient client)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var task = await client.GetTaskAsync(timeout.Token);
            if (task.State == FederatedTaskState.Assigned) return task;
            Assert.Equal(FederatedTaskState.Wait, task.State);
            await Task.Delay(20, timeout.Token);
        }
    }

    /// <summary>Downloads the task's model through the SDK and checks it is the served model, bit for bit.</summary>
    private static async Task<ModelDownload> DownloadAsync(TestFederation federation, FederatedClient client, FederatedTask task)
    {
        var download = await client.DownloadModelAsync(task, Layout);
        var served = federation.Coordinator.Broadcast;
        Assert.Equal(served.Version.Value, download.Version);
        Assert.Equal(served.Weights.ToArray(), download.Weights);
        return download;
    }

    private static async Task WaitForVersionAsync(TestFederation federation, long version)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (federation.Coordinator.Broadcast.Version.Value < version) await Task.Delay(5, timeout.Token);
    }

    private static async Task<(ModelDescriptor Descriptor, byte[] Bytes)> RawDownloadAsync(TestFederation federation, long version, long have, int client = 0)
    {
        using var call = federation.Raw().DownloadModel(new DownloadModelRequest { TaskId = "any", ModelVersion = version, HaveVersion = have }, TestFederation.As(client));
        ModelDescriptor? descriptor = null;
        var bytes = new List<byte>();
        await foreach (var chunk in call.ResponseStream.ReadAllAsync())
        {
            descriptor ??= chunk.Descriptor_;
            Assert.Equal(bytes.Count, chunk.Offset);
            bytes.AddRange(chunk.Data.ToByteArray());
        }
        Assert.NotNull(descriptor);
        Assert.Equal(descriptor.TotalLength, bytes.Count);
        return (descriptor, bytes.ToArray());
    }

    [Fact]
    public async Task A_device_holding_the_base_gets_the_change_and_any_other_have_version_gets_full_weights()
    {
        await using var federation = await StartAsync(minClients: 1, clients: 1);
        var client = federation.Client(0);
        var first = await TaskAsync(client);
        var initial = await DownloadAsync(federation, client, first);
        Assert.False(initial.Delta);
        Assert.Equal(4L * Parameters, initial.Bytes);
        await client.SubmitUpdateAsync(first, Update(1), 10);
        await WaitForVersionAsync(federation, 1);

        var served = federation.Coordinator.Broadcast;
        var (delta, deltaBytes) = await RawDownloadAsync(federation, 1, have: 0);
        Assert.Equal(ModelEncoding.Delta, delta.Encoding);
        Assert.Equal((0L, UpdateCodec.Fedzip), (delta.BaseVersion, delta.Codec));
        Assert.Equal(Crc32C.HashToUInt32(deltaBytes), delta.Crc32C);
        Assert.Equal(served.Crc32C, delta.WeightsCrc32C);
        Assert.Equal((Layout.Hash, Parameters), (delta.LayoutHash, delta.ParameterCount));
        Assert.True(deltaBytes.Length * 4 < 4 * Parameters, $"a change of {deltaBytes.Length} bytes");
        Assert.Equal(served.Change!.Payload.ToArray(), deltaBytes);

        foreach (long have in new long[] { -1, -7, 1, 5, long.MaxValue, long.MinValue })
        {
            var (full, fullBytes) = await RawDownloadAsync(federation, 1, have);
            Assert.Equal(ModelEncoding.FullWeights, full.Encoding);
            Assert.Equal((-1L, UpdateCodec.Unspecified), (full.BaseVersion, full.Codec));
            Assert.Equal(served.Bytes.ToArray(), fullBytes);
            Assert.Equal((served.Crc32C, served.Crc32C), (full.Crc32C, full.WeightsCrc32C));
        }

        // Through the SDK, which holds version 0: the change, rebuilt bit for bit.
        var second = await TaskAsync(client);
        var applied = await DownloadAsync(federation, client, second);
        Assert.True(applied.Delta);
        Assert.False(applied.FellBack);
        Assert.Equal(served.Change!.Payload.Length, applied.Bytes);
        var metrics = federation.Server.Metrics;
        Assert.Equal((2L, 7L), (metrics.DeltaDownloads, metrics.FullDownloads));
        Assert.Equal(2L * deltaBytes.Length + 7L * 4 * Parameters, metrics.BytesSent);
    }

    [Fact]
    public async Task Full_downstream_never_sends_a_change()
    {
        await using var federation = await StartAsync(minClients: 1, clients: 1, DownstreamMode.Full);
        var client = federation.Client(0);
        for (int round = 1; round <= 3; round++)
        {
            var task = await TaskAsync(client);
            var download = await DownloadAsync(federation, client, task);
            Assert.False(download.Delta);
            Assert.Equal(federation.Coordinator.Model.Weights.ToArray(), download.Weights);
            await client.SubmitUpdateAsync(task, Update(round), 10);
            await WaitForVersionAsync(federation, round);
        }
        Assert.Equal(0, federation.Server.Metrics.DeltaDownloads);
    }

    [Fact]
    public async Task A_device_that_joins_late_gets_full_weights_and_holds_the_same_bits_as_the_others()
    {
        await using var federation = await StartAsync(minClients: 2, clients: 3);
        var early = new[] { federation.Client(0), federation.Client(1) };
        for (int round = 1; round <= 2; round++)
        {
            var tasks = await Task.WhenAll(early.Select(TaskAsync));
            for (int i = 0; i < 2; i++)
            {
                var download = await DownloadAsync(federation, early[i], tasks[i]);
                Assert.Equal(round > 1, download.Delta);
            }
            for (int i = 0; i < 2; i++) await early[i].SubmitUpdateAsync(tasks[i], Update(10 * round + i), 10 + i);
            await WaitForVersionAsync(federation, round);
        }

        var late = federation.Client(2);
        var lateTask = await TaskAsync(late);
        var earlyTask = await TaskAsync(early[0]);
        var lateDownload = await DownloadAsync(federation, late, lateTask);
        var earlyDownload = await DownloadAsync(federation, early[0], earlyTask);
        Assert.False(lateDownload.Delta);
        Assert.True(earlyDownload.Delta);
        Assert.Equal(lateDownload.Weights, earlyDownload.Weights);
    }

    [Fact]
    public async Task A_change_that_does_not_rebuild_the_model_is_caught_by_its_checksum_and_full_weights_are_downloaded()
    {
        CorruptChangeCoordinator? corrupting = null;
        await using var federation = await StartAsync(minClients: 1, clients: 1, serve: c => corrupting = new CorruptChangeCoordinator(c));
        var client = federation.Client(0);
        var task = await TaskAsync(client);
        await DownloadAsync(federation, client, task);
        await client.SubmitUpdateAsync(task, Update(1), 10);
        await WaitForVersionAsync(federation, 1);

        corrupting!.Corrupt = true;
        task = await TaskAsync(client);
        var recovered = await DownloadAsync(federation, client, task);
        Assert.True(recovered.FellBack);
        Assert.False(recovered.Delta);
        Assert.True(recovered.Bytes > 4L * Parameters, $"{recovered.Bytes} bytes: the discarded change and the full weights");
        await client.SubmitUpdateAsync(task, Update(2), 10);
        await WaitForVersionAsync(federation, 2);

        // The full weights became the new base: the next change applies again.
        corrupting.Corrupt = false;
        task = await TaskAsync(client);
        var next = await DownloadAsync(federation, client, task);
        Assert.True(next.Delta);
        Assert.False(next.FellBack);
    }

    [Fact]
    public async Task A_download_of_a_version_no_longer_served_is_a_failed_precondition()
    {
        await using var federation = await StartAsync(minClients: 1, clients: 1);
        var error = await Assert.ThrowsAsync<RpcException>(() => RawDownloadAsync(federation, 3, have: 2));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
    }
}
