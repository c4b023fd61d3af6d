namespace Offload.Aggregator.SharedMemory;

/// <summary>A snapshot of a <see cref="SharedMemoryUpdateStore"/>, for operators (<c>offload store stat</c>) and tests.</summary>
/// <param name="CapacityBytes">Bytes of the data area.</param>
/// <param name="UsedBytes">Bytes reserved by objects (pending, committed, or deleted but still leased).</param>
/// <param name="LargestFreeBytes">The largest object that fits now.</param>
/// <param name="Pending">Objects being written.</param>
/// <param name="Committed">Objects readable.</param>
/// <param name="Deleted">Objects deleted but still leased.</param>
/// <param name="MaxObjects">Objects the store holds at most.</param>
/// <param name="Leases">Live leases, all processes.</param>
/// <param name="Attachers">Live attached store instances, all processes.</param>
/// <param name="ReclaimedAttachers">Dead attachers reclaimed since the store was created.</param>
public sealed record SharedMemoryStoreStats(
    long CapacityBytes,
    long UsedBytes,
    long LargestFreeBytes,
    int Pending,
    int Committed,
    int Deleted,
    int MaxObjects,
    int Leases,
    int Attachers,
    long ReclaimedAttachers);
