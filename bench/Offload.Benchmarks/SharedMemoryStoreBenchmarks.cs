using BenchmarkDotNet.Attributes;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;

namespace Offload.Benchmarks;

/// <summary>
/// The node store's own costs, apart from the bytes: borrowing an object by reference (the whole
/// shared-memory hop) with the store holding <see cref="Objects"/> others, and storing and deleting a
/// 64 KiB object (one upload chunk's copy plus the allocator), against an in-process
/// <see cref="InMemoryUpdateStore"/> doing the same (the baseline: no file lock, no shared tables).
/// </summary>
public class SharedMemoryStoreBenchmarks
{
    private readonly byte[] _chunk = new byte[64 * 1024];
    private string _folder = null!;
    private SharedMemoryUpdateStore _store = null!;
    private InMemoryUpdateStore _memory = null!;
    private UpdateReference _target;

    [Params(16, 1000)]
    public int Objects { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("offload-shm-bench").FullName;
        _store = SharedMemoryUpdateStore.Open(Path.Combine(_folder, "store"), 256L << 20);
        _memory = new InMemoryUpdateStore();
        for (int i = 0; i < Objects; i++)
        {
            var reference = new UpdateReference($"update/client-{i}/task-{i}");
            Put(_store, reference);
            Put(_memory, reference);
        }
        _target = new UpdateReference($"update/client-{Objects - 1}/task-{Objects - 1}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "in-process store: lease + release")]
    public int LeaseInMemory()
    {
        using var lease = _memory.LeaseAsync(_target).AsTask().GetAwaiter().GetResult();
        return lease.Memory.Length;
    }

    [Benchmark(Description = "shared-memory store: lease + release (one hop)")]
    public int LeaseShared()
    {
        using var lease = _store.LeaseAsync(_target).AsTask().GetAwaiter().GetResult();
        return lease.Memory.Length;
    }

    [Benchmark(Description = "in-process store: put 64 KiB + delete")]
    public void PutInMemory() => PutAndDelete(_memory);

    [Benchmark(Description = "shared-memory store: put 64 KiB + delete")]
    public void PutShared() => PutAndDelete(_store);

    private void PutAndDelete(IUpdateStore store)
    {
        var reference = new UpdateReference("update/bench/put");
        Put(store, reference);
        store.DeleteAsync(reference).AsTask().GetAwaiter().GetResult();
    }

    private void Put(IUpdateStore store, UpdateReference reference)
    {
        var writer = store.OpenWriteAsync(reference, _chunk.Length).AsTask().GetAwaiter().GetResult();
        writer.WriteAsync(_chunk).AsTask().GetAwaiter().GetResult();
        writer.CommitAsync().AsTask().GetAwaiter().GetResult();
    }
}
