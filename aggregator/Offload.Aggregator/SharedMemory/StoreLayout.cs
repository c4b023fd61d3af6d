using System.Runtime.InteropServices;

namespace Offload.Aggregator.SharedMemory;

/// <summary>
/// The store file's first page. Geometry is fixed when the file is created; every attacher reads
/// it from here, so processes started with other options still agree on the layout.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
internal struct StoreHeader
{
    public const ulong ExpectedMagic = 0x314D48535F4C464F; // "OFL_SHM1"
    public const int CurrentVersion = 3;

    public ulong Magic;
    public int Version;
    public int ObjectSlots;
    public int LeaseSlots;
    public int ProcessSlots;
    public long DataOffset;
    public long DataBytes;
    public long NextGeneration;
    public long ReclaimedProcesses;
}

/// <summary>States of an <see cref="ObjectSlot"/>.</summary>
internal static class ObjectState
{
    public const int Free = 0;
    public const int Pending = 1;
    public const int Committed = 2;
    /// <summary>Deleted while leased: its bytes stay until the last lease goes.</summary>
    public const int Deleted = 3;
}

/// <summary>
/// One object: its key and where its bytes lie in the data region. The slot table is the only
/// record of what is allocated (there is no free list to tear), and <see cref="State"/> is written
/// last when a slot is taken and first when it is freed, so a holder killed mid-update leaves either
/// the old object or none.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
internal unsafe struct ObjectSlot
{
    public const int MaxKeyBytes = 256;

    public int State;
    public int KeyLength;
    public ulong KeyHash;
    /// <summary>From the start of the data region; 64-byte aligned.</summary>
    public long Offset;
    /// <summary>Bytes reserved at <see cref="Offset"/>; zero for an empty object.</summary>
    public long Capacity;
    public long Length;
    /// <summary>Unique per object ever stored, so a handle to a reused slot is recognised as stale.</summary>
    public long Generation;
    /// <summary>The process slot writing a pending object.</summary>
    public int Writer;
    /// <summary>Live leases; the lease table is the truth, this a count recomputed at reclaim.</summary>
    public int Leases;
    public fixed byte Key[MaxKeyBytes];
}

/// <summary>One lease: which process borrows which object, so a dead borrower's leases can be dropped.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
internal struct LeaseSlot
{
    public int State;
    public int Object;
    public int Process;
    public int Reserved;
    public long ObjectGeneration;
}

/// <summary>One attached store instance (a process may attach more than once).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
internal struct ProcessSlot
{
    public int State;
    public int Pid;
    public long StartTime;
    /// <summary>The attacher's pid namespace: its pid is judged only by processes in the same one.</summary>
    public ulong PidNamespace;
}
