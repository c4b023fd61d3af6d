using Dapr.Client;
using Offload.Aggregator.Storage;
using Offload.Functions.Storage;
using Offload.Functions.Tests.Sidecar;

namespace Offload.Functions.Tests.Storage;

/// <summary>The Dapr state-store <see cref="IUpdateStore"/> against the sidecar stand-in's gRPC state API.</summary>
public sealed class DaprUpdateStoreTests
{
    [Fact]
    public async Task Chunks_resume_commit_read_back_and_delete()
    {
        await using var sidecar = await SidecarStandIn.StartAsync();
        using var client = new DaprClientBuilder().UseGrpcEndpoint(sidecar.GrpcEndpoint).UseHttpEndpoint(sidecar.HttpEndpoint).Build();
        var store = new DaprUpdateStore(client);
        var reference = UpdateReference.ForTask("c0", "t1");
        var bytes = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();

        Assert.Equal(-1, await store.GetLengthAsync(reference));
        var writer = await store.OpenWriteAsync(reference);
        await writer.WriteAsync(bytes.AsMemory(0, 100));
        // A dropped connection: a new writer continues where the stored chunks end.
        var resumed = await store.OpenWriteAsync(reference);
        Assert.Equal(100, resumed.Length);
        await Assert.ThrowsAsync<UpdateNotFoundException>(async () => await store.OpenReadAsync(reference));
        await resumed.WriteAsync(bytes.AsMemory(100));
        await resumed.CommitAsync();

        Assert.Equal(300, await store.GetLengthAsync(reference));
        Assert.Equal(bytes, await store.ReadAllAsync(reference));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.OpenWriteAsync(reference));
        Assert.True(await store.DeleteAsync(reference));
        Assert.Empty(sidecar.StateKeys);
        Assert.False(await store.DeleteAsync(reference));
    }

    [Fact]
    public async Task An_unavailable_state_store_surfaces_as_a_transient_failure()
    {
        await using var sidecar = await SidecarStandIn.StartAsync();
        using var client = new DaprClientBuilder().UseGrpcEndpoint(sidecar.GrpcEndpoint).Build();
        var store = new DaprUpdateStore(client);
        sidecar.StateUnavailable = true;
        var e = await Assert.ThrowsAnyAsync<Exception>(async () => await store.GetLengthAsync(UpdateReference.ForTask("c0", "t1")));
        Assert.True(Offload.Functions.Aggregation.TransientFailure.Is(e), e.ToString());
    }
}
