using CsCheck;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;

namespace Offload.Aggregator.Tests.SharedMemory;

/// <summary>
/// Random allocate / write / lease / release / delete / kill sequences over three attachers of one
/// store: regions never overlap, every object reads back what was written into it, and once all is
/// released and deleted nothing is left allocated.
/// </summary>
public sealed class SharedMemoryAllocatorPropertyTests
{
    private const long Capacity = 512 * 1024;

    [Fact]
    public void Regions_never_overlap_no_object_is_corrupted_and_nothing_leaks()
    {
        Gen.Int[0, int.MaxValue].Sample(seed => Run(seed), iter: 40);
    }

    private static void Run(int seed)
    {
        var random = new Random(seed);
        string folder = Directory.CreateTempSubdirectory("offload-shm-prop").FullName;
        string path = Path.Combine(folder, "store");
        var attachers = new List<SharedMemoryUpdateStore>();
        var committed = new Dictionary<string, byte[]>();
        var pending = new Dictionary<string, (int Attacher, IUpdateWriter Writer, List<byte> Written)>();
        var leases = new List<(int Attacher, UpdateLease Lease, byte[] Expected)>();
        try
        {
            for (int i = 0; i < 3; i++) attachers.Add(SharedMemoryUpdateStore.Open(path, Capacity, maxObjects: 32));
            int next = 0;
            for (int step = 0; step < 150; step++)
            {
                int who = random.Next(attachers.Count);
                var store = attachers[who];
                switch (random.Next(7))
                {
                    case 0 or 1:
                    {
                        string key = $"k{next++}";
                        int length = random.Next(4) == 0 ? random.Next(0, 100) : random.Next(1, 120_000);
                        bool hint = random.Next(2) == 0;
                        try
                        {
                            var writer = hint ? Wait(store.OpenWriteAsync(new UpdateReference(key), length)) : Wait(store.OpenWriteAsync(new UpdateReference(key)));
                            var bytes = new byte[length];
                            random.NextBytes(bytes);
                            pending[key] = (who, writer, []);
                            Wait(writer.WriteAsync(bytes));
                            pending[key].Written.AddRange(bytes);
                            if (random.Next(3) > 0)
                            {
                                Wait(writer.CommitAsync());
                                pending.Remove(key);
                                committed[key] = bytes;
                            }
                        }
                        catch (UpdateStoreFullException)
                        {
                            // Push-back; what was written before the refusal stays pending.
                        }
                        break;
                    }
                    case 2 when committed.Count > 0:
                    {
                        string key = Pick(random, committed.Keys);
                        leases.Add((who, Wait(store.LeaseAsync(new UpdateReference(key))), committed[key]));
                        break;
                    }
                    case 3 when leases.Count > 0:
                    {
                        int at = random.Next(leases.Count);
                        leases[at].Lease.Dispose();
                        leases.RemoveAt(at);
                        break;
                    }
                    case 4 when committed.Count > 0:
                    {
                        string key = Pick(random, committed.Keys);
                        Assert.True(Wait(store.DeleteAsync(new UpdateReference(key))));
                        committed.Remove(key);
                        break;
                    }
                    case 5 when pending.Count > 0:
                    {
                        string key = Pick(random, pending.Keys);
                        Assert.True(Wait(store.DeleteAsync(new UpdateReference(key))));
                        pending.Remove(key);
                        break;
                    }
                    case 6:
                    {
                        // kill -9: the attacher's leases and unfinished writes must go, nothing else.
                        store.AbandonAsIfKilled();
                        leases.RemoveAll(l => l.Attacher == who);
                        foreach (var key in pending.Where(p => p.Value.Attacher == who).Select(p => p.Key).ToList()) pending.Remove(key);
                        attachers[who] = SharedMemoryUpdateStore.Open(path);
                        break;
                    }
                }
                Check(attachers[0], committed, pending, leases, seed, step);
            }

            foreach (var (_, lease, _) in leases) lease.Dispose();
            foreach (var key in committed.Keys.Concat(pending.Keys)) Assert.True(Wait(attachers[0].DeleteAsync(new UpdateReference(key))));
            var stats = attachers[0].ReadStats();
            Assert.True(stats.UsedBytes == 0 && stats.Leases == 0 && stats.Pending + stats.Committed + stats.Deleted == 0,
                $"seed {seed}: {stats} left after everything was released");
            Assert.Equal(Capacity, stats.LargestFreeBytes);
        }
        finally
        {
            foreach (var store in attachers) store.Dispose();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void Check(SharedMemoryUpdateStore store, Dictionary<string, byte[]> committed,
        Dictionary<string, (int Attacher, IUpdateWriter Writer, List<byte> Written)> pending,
        List<(int Attacher, UpdateLease Lease, byte[] Expected)> leases, int seed, int step)
    {
        var regions = store.UsedRegions();
        regions.Sort();
        for (int i = 0; i < regions.Count; i++)
        {
            Assert.True(regions[i].Start >= 0 && regions[i].End <= Capacity, $"seed {seed} step {step}: region {regions[i]} outside the data area");
            if (i > 0) Assert.True(regions[i - 1].End <= regions[i].Start, $"seed {seed} step {step}: regions {regions[i - 1]} and {regions[i]} overlap");
        }
        foreach (var (key, bytes) in committed)
        {
            using var lease = Wait(store.LeaseAsync(new UpdateReference(key)));
            Assert.True(lease.Memory.Span.SequenceEqual(bytes), $"seed {seed} step {step}: '{key}' no longer holds what was written");
        }
        foreach (var (key, p) in pending) Assert.Equal(p.Written.Count, Wait(store.GetLengthAsync(new UpdateReference(key))));
        foreach (var (_, lease, expected) in leases) Assert.True(lease.Memory.Span.SequenceEqual(expected), $"seed {seed} step {step}: a lease of '{lease.Reference}' changed under its reader");
    }

    private static string Pick(Random random, IEnumerable<string> keys)
    {
        var list = keys.ToList();
        return list[random.Next(list.Count)];
    }

    private static T Wait<T>(ValueTask<T> task) => task.AsTask().GetAwaiter().GetResult();

    private static void Wait(ValueTask task) => task.AsTask().GetAwaiter().GetResult();
}
