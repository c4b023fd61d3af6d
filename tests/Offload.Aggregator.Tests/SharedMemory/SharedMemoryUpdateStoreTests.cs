using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;

namespace Offload.Aggregator.Tests.SharedMemory;

// The store is Linux-only (liveness comes from /proc).
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SharedMemoryUpdateStoreTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("offload-shm").FullName;

    private string StorePath => Path.Combine(_folder, "store");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task PutAsync(IUpdateStore store, string key, byte[] bytes, bool hint = true)
    {
        var writer = hint ? await store.OpenWriteAsync(new UpdateReference(key), bytes.Length) : await store.OpenWriteAsync(new UpdateReference(key));
        // Several chunks, as an upload arrives.
        for (int at = 0; at < bytes.Length; at += 10_000) await writer.WriteAsync(bytes.AsMemory(at, Math.Min(10_000, bytes.Length - at)));
        await writer.CommitAsync();
    }

    [Fact]
    public async Task A_lease_lends_the_stored_bytes_without_a_copy_and_a_stream_reads_the_same()
    {
        using var store = SharedMemoryUpdateStore.Open(StorePath, 1 << 20);
        var bytes = Bytes(123_457, 1);
        await PutAsync(store, "u/a", bytes);

        // A second commit changes nothing (the gateway commits to inspect, then again to accept).
        var again = await store.OpenWriteAsync(new UpdateReference("u/b"), 10);
        await again.WriteAsync(bytes.AsMemory(0, 10));
        await again.CommitAsync();
        await again.CommitAsync();
        Assert.Equal(10, await store.GetLengthAsync(new UpdateReference("u/b")));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await again.WriteAsync(bytes.AsMemory(0, 1)));

        using (var lease = await store.LeaseAsync(new UpdateReference("u/a")))
        {
            Assert.False(lease.Copied);
            Assert.Equal(bytes, lease.Memory.ToArray());
        }
        await using var stream = await store.OpenReadAsync(new UpdateReference("u/a"));
        var read = new byte[bytes.Length];
        await stream.ReadExactlyAsync(read);
        Assert.Equal(bytes, read);
        Assert.Equal(bytes.Length, await store.GetLengthAsync(new UpdateReference("u/a")));
        // Devices' updates: the file is its owner's alone.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(StorePath));
    }

    [Fact]
    public async Task Writes_without_a_length_hint_grow_and_keep_every_byte()
    {
        using var store = SharedMemoryUpdateStore.Open(StorePath, 8 << 20);
        var small = Bytes(1000, 2);
        var large = Bytes(1_500_000, 3);
        await PutAsync(store, "small", small, hint: false);
        await PutAsync(store, "large", large, hint: false);
        using var a = await store.LeaseAsync(new UpdateReference("small"));
        using var b = await store.LeaseAsync(new UpdateReference("large"));
        Assert.Equal(small, a.Memory.ToArray());
        Assert.Equal(large, b.Memory.ToArray());
        // Committing gives back what the reservation did not use.
        Assert.Equal(1024 + 1_500_032, store.ReadStats().UsedBytes);
    }

    [Fact]
    public async Task A_second_attacher_of_the_same_file_sees_the_objects_and_a_resumed_write_continues()
    {
        using var first = SharedMemoryUpdateStore.Open(StorePath, 1 << 20);
        using var second = SharedMemoryUpdateStore.Open(StorePath);
        var bytes = Bytes(50_000, 4);
        var writer = await first.OpenWriteAsync(new UpdateReference("u/r"), bytes.Length);
        await writer.WriteAsync(bytes.AsMemory(0, 20_000));

        var resumed = await second.OpenWriteAsync(new UpdateReference("u/r"), bytes.Length);
        Assert.Equal(20_000, resumed.Length);
        await resumed.WriteAsync(bytes.AsMemory(20_000));
        await resumed.CommitAsync();

        using var lease = await first.LeaseAsync(new UpdateReference("u/r"));
        Assert.Equal(bytes, lease.Memory.ToArray());
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await second.OpenWriteAsync(new UpdateReference("u/r")));
    }

    [Fact]
    public async Task A_deleted_object_stays_readable_until_its_last_lease_is_released()
    {
        using var store = SharedMemoryUpdateStore.Open(StorePath, 1 << 20);
        using var other = SharedMemoryUpdateStore.Open(StorePath);
        var bytes = Bytes(70_000, 5);
        await PutAsync(store, "u/d", bytes);
        var lease = await other.LeaseAsync(new UpdateReference("u/d"));

        Assert.True(await store.DeleteAsync(new UpdateReference("u/d")));
        await Assert.ThrowsAsync<UpdateNotFoundException>(async () => await store.LeaseAsync(new UpdateReference("u/d")));
        Assert.Equal(-1, await store.GetLengthAsync(new UpdateReference("u/d")));
        // A new payload may take the key at once; it must not land on the leased bytes.
        await PutAsync(store, "u/d", Bytes(70_000, 6));
        Assert.Equal(bytes, lease.Memory.ToArray());
        Assert.Equal(1, store.ReadStats().Deleted);

        lease.Dispose();
        lease.Dispose();
        var stats = store.ReadStats();
        Assert.Equal(0, stats.Deleted);
        Assert.Equal(0, stats.Leases);
        Assert.Equal(70_016, stats.UsedBytes);
    }

    [Fact]
    public async Task A_full_store_pushes_back_without_touching_what_it_holds_and_takes_the_write_once_room_is_freed()
    {
        using var store = SharedMemoryUpdateStore.Open(StorePath, 256 * 1024);
        var kept = Bytes(150_000, 7);
        await PutAsync(store, "u/kept", kept);

        var full = await Assert.ThrowsAsync<UpdateStoreFullException>(async () => await store.OpenWriteAsync(new UpdateReference("u/next"), 150_000));
        Assert.Equal(new UpdateReference("u/next"), full.Reference);
        Assert.True(full.RetryAfter > TimeSpan.Zero);
        Assert.Contains("u/next", full.Message);
        using (var lease = await store.LeaseAsync(new UpdateReference("u/kept"))) Assert.Equal(kept, lease.Memory.ToArray());

        // A write that outgrows its room mid-stream is refused too, and keeps what it wrote.
        var writer = await store.OpenWriteAsync(new UpdateReference("u/grows"), 10_000);
        await writer.WriteAsync(Bytes(10_000, 8));
        await Assert.ThrowsAsync<UpdateStoreFullException>(async () => await writer.WriteAsync(Bytes(150_000, 9)));
        Assert.Equal(10_000, writer.Length);

        await store.DeleteAsync(new UpdateReference("u/kept"));
        await PutAsync(store, "u/next", Bytes(150_000, 10));
    }

    [Fact]
    public async Task The_object_table_filling_up_is_push_back_too()
    {
        using var store = SharedMemoryUpdateStore.Open(StorePath, 1 << 20, maxObjects: 2);
        await PutAsync(store, "a", Bytes(10, 1));
        await PutAsync(store, "b", Bytes(10, 2));
        await Assert.ThrowsAsync<UpdateStoreFullException>(async () => await store.OpenWriteAsync(new UpdateReference("c"), 10));
        await store.DeleteAsync(new UpdateReference("a"));
        await PutAsync(store, "c", Bytes(10, 3));
    }

    [Fact]
    public async Task A_killed_attacher_s_leases_and_unfinished_writes_are_reclaimed_but_its_committed_objects_stay()
    {
        using var survivor = SharedMemoryUpdateStore.Open(StorePath, 1 << 20);
        var victim = SharedMemoryUpdateStore.Open(StorePath);
        var committed = Bytes(40_000, 11);
        await PutAsync(victim, "u/acked", committed);
        var pending = await victim.OpenWriteAsync(new UpdateReference("u/half"), 40_000);
        await pending.WriteAsync(Bytes(20_000, 12));
        await PutAsync(survivor, "u/leased", Bytes(40_000, 13));
        _ = await victim.LeaseAsync(new UpdateReference("u/leased"));
        await survivor.DeleteAsync(new UpdateReference("u/leased"));

        victim.AbandonAsIfKilled();
        Assert.Equal(1, survivor.Reclaim());

        var stats = survivor.ReadStats();
        Assert.Equal((0, 1, 0, 0), (stats.Pending, stats.Committed, stats.Deleted, stats.Leases));
        Assert.Equal(1, stats.Attachers);
        Assert.Equal(1, stats.ReclaimedAttachers);
        using var lease = await survivor.LeaseAsync(new UpdateReference("u/acked"));
        Assert.Equal(committed, lease.Memory.ToArray());
        Assert.Equal(0, survivor.Reclaim());
    }

    [Fact]
    public async Task An_attacher_from_a_pid_namespace_this_process_cannot_see_is_never_reclaimed_from_here()
    {
        using var survivor = SharedMemoryUpdateStore.Open(StorePath, 1 << 20);
        var foreign = SharedMemoryUpdateStore.Open(StorePath);
        await PutAsync(survivor, "u/leased", Bytes(1000, 21));
        _ = await foreign.LeaseAsync(new UpdateReference("u/leased"));
        var half = await foreign.OpenWriteAsync(new UpdateReference("u/half"), 1000);
        await half.WriteAsync(Bytes(10, 22));

        // Its pid names no process here, but pids of another pod's namespace never do: it may be alive.
        foreign.AbandonAsIfKilled(inAnotherPidNamespace: true);
        Assert.Equal(0, survivor.Reclaim());
        var stats = survivor.ReadStats();
        Assert.Equal((1, 1, 2), (stats.Pending, stats.Leases, stats.Attachers));
    }

    [Fact]
    public async Task Disposing_detaches_its_leases_and_unfinished_writes_only()
    {
        using var survivor = SharedMemoryUpdateStore.Open(StorePath, 1 << 20);
        var leaving = SharedMemoryUpdateStore.Open(StorePath);
        await PutAsync(leaving, "u/acked", Bytes(1000, 14));
        var writer = await leaving.OpenWriteAsync(new UpdateReference("u/half"), 1000);
        await writer.WriteAsync(Bytes(10, 15));
        var lease = await leaving.LeaseAsync(new UpdateReference("u/acked"));
        leaving.Dispose();
        lease.Dispose();

        var stats = survivor.ReadStats();
        Assert.Equal((0, 1, 0, 1), (stats.Pending, stats.Committed, stats.Leases, stats.Attachers));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await leaving.LeaseAsync(new UpdateReference("u/acked")));
    }

    [Fact]
    public async Task An_existing_store_keeps_its_geometry_and_a_foreign_file_is_refused_by_name()
    {
        using (var created = SharedMemoryUpdateStore.Open(StorePath, 1 << 20, maxObjects: 64))
            await PutAsync(created, "kept", Bytes(100, 16));
        using (var reopened = SharedMemoryUpdateStore.Open(StorePath, 4 << 20, maxObjects: 8))
        {
            Assert.Equal(1 << 20, reopened.CapacityBytes);
            Assert.Equal(64, reopened.MaxObjects);
            Assert.Equal(100, await reopened.GetLengthAsync(new UpdateReference("kept")));
        }

        string foreign = Path.Combine(_folder, "foreign");
        await File.WriteAllBytesAsync(foreign, Bytes(1 << 20, 17));
        var e = Assert.Throws<InvalidDataException>(() => SharedMemoryUpdateStore.Open(foreign));
        Assert.Contains(foreign, e.Message);
        Assert.Contains("magic", e.Message);

        // A store cut short (a copy, a truncate) is refused, not read past its end.
        File.Copy(StorePath, Path.Combine(_folder, "cut"));
        using (var cut = new FileStream(Path.Combine(_folder, "cut"), FileMode.Open)) cut.SetLength(cut.Length - 4096);
        Assert.Throws<InvalidDataException>(() => SharedMemoryUpdateStore.Open(Path.Combine(_folder, "cut")));
    }

    [Fact]
    public void Absurd_geometry_is_refused_before_anything_is_created()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryUpdateStore.Open(StorePath, 1024));
        Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryUpdateStore.Open(StorePath, 1 << 20, maxObjects: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryUpdateStore.Open(StorePath, long.MaxValue));
        Assert.False(File.Exists(StorePath));
    }

    [Fact]
    public async Task The_in_memory_store_lends_a_payload_written_with_its_length_without_a_copy()
    {
        var store = new InMemoryUpdateStore();
        var bytes = Bytes(300_000, 18);
        await PutAsync(store, "hinted", bytes);
        await PutAsync(store, "unhinted", bytes, hint: false);
        using var hinted = await store.LeaseAsync(new UpdateReference("hinted"));
        using var unhinted = await store.LeaseAsync(new UpdateReference("unhinted"));
        Assert.False(hinted.Copied);
        Assert.True(unhinted.Copied);
        Assert.Equal(bytes, hinted.Memory.ToArray());
        Assert.Equal(bytes, unhinted.Memory.ToArray());

        // The bytes outlive a delete until the lease goes.
        await store.DeleteAsync(new UpdateReference("hinted"));
        Assert.Equal(bytes, hinted.Memory.ToArray());
        long held = store.LiveBytes;
        hinted.Dispose();
        Assert.True(store.LiveBytes < held);
    }
}
