using Offload.Aggregator.Storage;

namespace Offload.Aggregator.Tests.Storage;

public class InMemoryUpdateStoreTests
{
    private static readonly UpdateReference Ref = UpdateReference.ForTask("client-1", "task-1");

    [Fact]
    public async Task Chunks_of_any_size_read_back_in_order_across_segments()
    {
        var store = new InMemoryUpdateStore(segmentBytes: 1024);
        var data = new byte[5_000];
        new Random(3).NextBytes(data);
        var writer = await store.OpenWriteAsync(Ref);
        foreach (int n in new[] { 1, 1023, 1, 2048, 1927 })
            await writer.WriteAsync(data.AsMemory((int)writer.Length, n));
        await writer.CommitAsync();
        await using var stream = await store.OpenReadAsync(Ref);
        Assert.Equal(data.Length, stream.Length);
        var back = new byte[data.Length];
        await stream.ReadExactlyAsync(back);
        Assert.Equal(data, back);
        Assert.Equal(0, await stream.ReadAsync(new byte[1]));
        Assert.Equal(5 * 1024, store.LiveBytes); // Five pooled segments, nothing more.
    }

    [Fact]
    public async Task A_pending_upload_resumes_where_it_stopped_and_is_unreadable_until_committed()
    {
        var store = new InMemoryUpdateStore();
        var first = await store.OpenWriteAsync(Ref);
        await first.WriteAsync(new byte[] { 1, 2, 3 });
        await Assert.ThrowsAsync<UpdateNotFoundException>(async () => await store.OpenReadAsync(Ref));
        Assert.Equal(3, await store.GetLengthAsync(Ref));
        var resumed = await store.OpenWriteAsync(Ref);
        Assert.Equal(3, resumed.Length);
        await resumed.WriteAsync(new byte[] { 4 });
        await resumed.CommitAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.OpenWriteAsync(Ref));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await resumed.WriteAsync(new byte[] { 5 }));
        await using var stream = await store.OpenReadAsync(Ref);
        var back = new byte[4];
        await stream.ReadExactlyAsync(back);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, back);
    }

    [Fact]
    public async Task Delete_returns_segments_only_after_the_last_reader_closes()
    {
        var store = new InMemoryUpdateStore(segmentBytes: 1024);
        var writer = await store.OpenWriteAsync(Ref);
        await writer.WriteAsync(Enumerable.Repeat((byte)7, 1500).ToArray());
        await writer.CommitAsync();
        var reader = await store.OpenReadAsync(Ref);
        Assert.True(await store.DeleteAsync(Ref));
        Assert.Equal(-1, await store.GetLengthAsync(Ref));
        Assert.Equal(2048, store.LiveBytes); // The open reader still holds them.
        var back = new byte[1500];
        await reader.ReadExactlyAsync(back);
        Assert.All(back, b => Assert.Equal(7, b));
        await reader.DisposeAsync();
        Assert.Equal(0, store.LiveBytes);
        Assert.Equal(2048, store.PeakLiveBytes);
        Assert.False(await store.DeleteAsync(Ref));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await writer.WriteAsync(new byte[1]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("tab\there")]
    public void References_reject_keys_no_store_could_use(string key) =>
        Assert.ThrowsAny<ArgumentException>(() => new UpdateReference(key));
}
