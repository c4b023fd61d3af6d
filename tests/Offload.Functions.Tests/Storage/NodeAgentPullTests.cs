using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Offload.Aggregator.Accumulation;
using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Core.Protos.Node;
using Offload.Functions.Aggregation;
using Offload.Gateway.Nodes;

namespace Offload.Functions.Tests.Storage;

/// <summary>
/// Two shared-memory stores in different folders stand in for two nodes, each with its node agent
/// on loopback: a leaf partial made on one node reaches the top on the other by <c>PullObject</c>.
/// </summary>
public sealed class NodeAgentPullTests : IDisposable
{
    private const int Parameters = 5_000;
    private static readonly TensorLayout Layout = TensorLayout.Create([("w", [Parameters])]);
    private readonly string _folder = Directory.CreateTempSubdirectory("offload-nodes").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static byte[] Update(int seed)
    {
        var random = new Random(seed);
        var delta = new float[Parameters];
        for (int i = 0; i < delta.Length; i++) delta[i] = (float)(random.NextDouble() - 0.5) * seed;
        return IdentityCodec.Instance.Encode(delta, Layout);
    }

    private static async Task PutAsync(IUpdateStore store, string key, byte[] bytes)
    {
        var writer = await store.OpenWriteAsync(new UpdateReference(key), bytes.Length);
        await writer.WriteAsync(bytes);
        await writer.CommitAsync();
    }

    /// <summary>A leaf on <paramref name="store"/>: folds its updates by lease and stores its partial there.</summary>
    private static async Task<UpdateReference> LeafAsync(IUpdateStore store, int index, IEnumerable<string> keys)
    {
        using var accumulator = new UpdateAccumulator(Layout);
        foreach (var key in keys)
        {
            using var lease = await store.LeaseAsync(new UpdateReference(key));
            accumulator.AddEncoded(UpdatePayload.Validate(lease.Memory.Span, Layout), lease.Memory.Span, 1.0 + index);
        }
        using var partial = PartialAggregate.FromSum(new AggregatorAddress(0, 1, index), accumulator.Sum, accumulator.TotalWeight, accumulator.Count);
        var reference = new UpdateReference($"partial/r0/l1/a{index}");
        await PutAsync(store, reference.Key, PartialSumFormat.Encode(partial));
        return reference;
    }

    /// <summary>The top: the weighted mean of the partials, all read by lease from <paramref name="store"/>.</summary>
    private static async Task<float[]> TopAsync(IUpdateStore store, params UpdateReference[] partials)
    {
        var sum = new float[Parameters];
        double weight = 0;
        for (int p = 0; p < partials.Length; p++)
        {
            using var lease = await store.LeaseAsync(partials[p]);
            using var partial = PartialSumFormat.Decode(lease.Memory.Span, new AggregatorAddress(0, 1, p), Parameters);
            System.Numerics.Tensors.TensorPrimitives.Add(sum, partial.Sum, sum);
            weight += partial.TotalWeight;
        }
        System.Numerics.Tensors.TensorPrimitives.Multiply(sum, (float)(1 / weight), sum);
        return sum;
    }

    [Fact]
    public async Task A_partial_pulled_from_another_node_gives_the_model_the_single_node_gives()
    {
        string[] onA = ["update/a0/t", "update/a1/t", "update/a2/t"];
        string[] onB = ["update/b0/t", "update/b1/t"];
        using var single = SharedMemoryUpdateStore.Open(Path.Combine(_folder, "single"), 8 << 20);
        using var nodeA = SharedMemoryUpdateStore.Open(Path.Combine(_folder, "node-a"), 8 << 20);
        using var nodeB = SharedMemoryUpdateStore.Open(Path.Combine(_folder, "node-b"), 8 << 20);
        int seed = 1;
        foreach (var key in onA)
        {
            var bytes = Update(seed++);
            await PutAsync(single, key, bytes);
            await PutAsync(nodeA, key, bytes);
        }
        foreach (var key in onB)
        {
            var bytes = Update(seed++);
            await PutAsync(single, key, bytes);
            await PutAsync(nodeB, key, bytes);
        }
        var expected = await TopAsync(single, await LeafAsync(single, 0, onA), await LeafAsync(single, 1, onB));

        var partialA = await LeafAsync(nodeA, 0, onA);
        var partialB = await LeafAsync(nodeB, 1, onB);
        await using var agentA = await NodeAgentServer.StartAsync(nodeA, IPAddress.Loopback, 0);
        using var channel = GrpcChannel.ForAddress(agentA.Address);
        long pulled = await ObjectPull.PullAsync(new NodeAgent.NodeAgentClient(channel), partialA, nodeB);
        Assert.Equal(await nodeA.GetLengthAsync(partialA), pulled);
        var model = await TopAsync(nodeB, partialA, partialB);

        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), model.Select(BitConverter.SingleToInt32Bits));
        // A second pull of what is held already moves nothing.
        Assert.Equal(0, await ObjectPull.PullAsync(new NodeAgent.NodeAgentClient(channel), partialA, nodeB));
    }

    [Fact]
    public async Task A_pull_larger_than_one_chunk_resumes_a_half_written_local_copy_and_ends_whole()
    {
        using var owner = SharedMemoryUpdateStore.Open(Path.Combine(_folder, "owner"), 16 << 20);
        using var local = SharedMemoryUpdateStore.Open(Path.Combine(_folder, "local"), 16 << 20);
        var bytes = new byte[NodeAgentService.ChunkBytes * 2 + 12_345];
        new Random(3).NextBytes(bytes);
        await PutAsync(owner, "partial/big", bytes);
        // An earlier pull that died after 1.5 chunks.
        var half = await local.OpenWriteAsync(new UpdateReference("partial/big"), bytes.Length);
        await half.WriteAsync(bytes.AsMemory(0, NodeAgentService.ChunkBytes * 3 / 2));

        await using var agent = await NodeAgentServer.StartAsync(owner, IPAddress.Loopback, 0);
        using var channel = GrpcChannel.ForAddress(agent.Address);
        long pulled = await ObjectPull.PullAsync(new NodeAgent.NodeAgentClient(channel), new UpdateReference("partial/big"), local);
        Assert.Equal(bytes.Length - NodeAgentService.ChunkBytes * 3 / 2, pulled);
        using var lease = await local.LeaseAsync(new UpdateReference("partial/big"));
        Assert.Equal(bytes, lease.Memory.ToArray());
    }

    [Fact]
    public async Task A_puller_that_stops_reading_loses_its_lease_after_the_pull_limit_and_the_object_can_go()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var owner = SharedMemoryUpdateStore.Open(Path.Combine(_folder, "owner"), 64 << 20);
        // Larger than the HTTP/2 windows can buffer (16 MiB at most per stream), so the agent's writes block.
        var bytes = new byte[48 << 20];
        await PutAsync(owner, "partial/stuck", bytes);
        await using var agent = await NodeAgentServer.StartAsync(owner, IPAddress.Loopback, 0, clock: clock);
        using var channel = GrpcChannel.ForAddress(agent.Address);
        using var call = new NodeAgent.NodeAgentClient(channel).PullObject(new PullObjectRequest { Key = "partial/stuck" });
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal(1, owner.ReadStats().Leases);
        await owner.DeleteAsync(new UpdateReference("partial/stuck"));

        clock.Advance(NodeAgentService.MaxPullDuration + TimeSpan.FromSeconds(1));
        // The agent cancels its blocked write: Kestrel then resets the stream, so the puller sees the
        // end as DEADLINE_EXCEEDED, CANCELLED or INTERNAL, each of which ObjectPull resumes from.
        var ended = await Assert.ThrowsAsync<RpcException>(async () => { while (await call.ResponseStream.MoveNext()) { } });
        Assert.True(ended.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Cancelled or StatusCode.Internal, ended.ToString());
        // The lease goes as the agent's call unwinds; then the deleted object's room is free.
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (owner.ReadStats().Leases > 0 && !patience.IsCancellationRequested) await Task.Delay(10, CancellationToken.None);
        var stats = owner.ReadStats();
        Assert.Equal((0, 0, 0L), (stats.Leases, stats.Deleted, stats.UsedBytes));
    }

    [Fact]
    public async Task The_agent_answers_bad_requests_with_the_status_that_names_them()
    {
        using var owner = SharedMemoryUpdateStore.Open(Path.Combine(_folder, "owner"), 1 << 20);
        await PutAsync(owner, "partial/p", new byte[100]);
        await using var agent = await NodeAgentServer.StartAsync(owner, IPAddress.Loopback, 0);
        using var channel = GrpcChannel.ForAddress(agent.Address);
        var client = new NodeAgent.NodeAgentClient(channel);

        async Task<StatusCode> Pull(string key, long offset)
        {
            try
            {
                using var call = client.PullObject(new PullObjectRequest { Key = key, Offset = offset });
                await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
                return StatusCode.OK;
            }
            catch (RpcException e)
            {
                return e.StatusCode;
            }
        }

        Assert.Equal(StatusCode.InvalidArgument, await Pull("has space", 0));
        Assert.Equal(StatusCode.InvalidArgument, await Pull("", 0));
        Assert.Equal(StatusCode.NotFound, await Pull("partial/absent", 0));
        Assert.Equal(StatusCode.OutOfRange, await Pull("partial/p", 101));
        Assert.Equal(StatusCode.OutOfRange, await Pull("partial/p", -1));
        Assert.Equal(StatusCode.OK, await Pull("partial/p", 100));
        await Assert.ThrowsAsync<UpdateNotFoundException>(() => ObjectPull.PullAsync(client, new UpdateReference("partial/absent"), owner));
        // A pending object is not served: only committed bytes leave the node.
        var writer = await owner.OpenWriteAsync(new UpdateReference("partial/pending"), 10);
        await writer.WriteAsync(new byte[10]);
        Assert.Equal(StatusCode.NotFound, await Pull("partial/pending", 0));
    }

    [Fact]
    public async Task Peers_pull_by_node_name_and_delete_the_original_once_folded_a_pulled_object_living_until_its_pull_ends()
    {
        using var owner = SharedMemoryUpdateStore.Open(Path.Combine(_folder, "owner"), 1 << 20);
        using var here = SharedMemoryUpdateStore.Open(Path.Combine(_folder, "here"), 1 << 20);
        var bytes = Update(3);
        await PutAsync(owner, "update/c0/t1", bytes);
        await using var agent = await NodeAgentServer.StartAsync(owner, IPAddress.Loopback, 0);
        using var peers = new NodeAgentPeers(new Dictionary<string, Uri> { ["node-a"] = agent.Address });

        Assert.True(peers.Knows("node-a"));
        Assert.False(peers.Knows("node-b"));
        Assert.Equal(bytes.Length, await peers.PullAsync("node-a", new UpdateReference("update/c0/t1"), here));
        using (var lease = await here.LeaseAsync(new UpdateReference("update/c0/t1")))
            Assert.Equal(bytes, lease.Memory.ToArray());
        // The original goes once the copy was folded; a second delete finds nothing.
        Assert.True(await peers.DeleteAsync("node-a", new UpdateReference("update/c0/t1")));
        Assert.False(await peers.DeleteAsync("node-a", new UpdateReference("update/c0/t1")));
        Assert.Equal(0, owner.ReadStats().Committed);
        await Assert.ThrowsAsync<KeyNotFoundException>(() => peers.PullAsync("node-b", new UpdateReference("update/c0/t1"), here));
        using var channel = GrpcChannel.ForAddress(agent.Address);
        var status = await Assert.ThrowsAsync<RpcException>(async () => await new NodeAgent.NodeAgentClient(channel).DeleteObjectAsync(new DeleteObjectRequest { Key = "has space" }));
        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.Throws<ArgumentException>(() => new NodeAgentPeers(new Dictionary<string, Uri> { ["node-c"] = new Uri("file:///tmp/x") }));
    }
}
