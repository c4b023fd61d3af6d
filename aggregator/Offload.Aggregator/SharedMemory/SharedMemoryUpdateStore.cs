using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Offload.Aggregator.Storage;

namespace Offload.Aggregator.SharedMemory;

/// <summary>
/// A node's update store in one memory-mapped file (under <c>/dev/shm</c> by default), shared by
/// every process on the node that opens the same path: the gateway streams an upload straight into
/// it, and aggregators in other processes fold it from there by <see cref="LeaseAsync"/> without a
/// copy. Unlike LIFL's fixed segment per sender/receiver pair, objects are variable-size regions of
/// one data area, found by key.
/// <list type="bullet">
/// <item>Allocation is first-fit over the slot table, which is the only record of what is used:
/// there is no free list a killed process could tear.</item>
/// <item>Leases are counted per process in a lease table, so a deleted object lives until its last
/// reader releases it, and the leases of a reader that died are dropped.</item>
/// <item>Each attacher registers its pid and start time; <see cref="Reclaim"/> (run at attach and
/// whenever the store is full) frees what a dead process held: its leases and its unfinished
/// writes. Its committed objects stay: they may be acknowledged updates.</item>
/// <item>A full store refuses with <see cref="UpdateStoreFullException"/> (push-back); nothing it
/// holds is touched.</item>
/// </list>
/// Mutations take a monitor (threads) and an <c>flock</c> on the file (processes; the kernel drops
/// it when its holder dies). Linux only: liveness comes from <c>/proc</c>.
/// </summary>
public sealed unsafe class SharedMemoryUpdateStore : IUpdateStore, IDisposable
{
    /// <summary>Data bytes of a store created without a size.</summary>
    public const long DefaultCapacityBytes = 1L << 30;

    /// <summary>Objects a store created without a count holds at once.</summary>
    public const int DefaultMaxObjects = 4096;

    /// <summary>The smallest data area a store may have.</summary>
    public const long MinCapacityBytes = 64 * 1024;

    /// <summary>How long a writer refused for room is told to wait.</summary>
    public static readonly TimeSpan FullRetryAfter = TimeSpan.FromMilliseconds(500);

    private const int Alignment = 64;
    private const int Page = 4096;
    private const int ProcessSlots = 256;
    private const int LeasesPerObject = 4;
    private const long MaxCapacityBytes = 1L << 40;
    private const int MaxObjectSlots = 1 << 20;
    // An object written without a length hint starts this large and doubles.
    private const long UnhintedReserve = 256 * 1024;

    private readonly object _gate = new();
    private readonly FileStream _file;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly StoreHeader* _header;
    private readonly ProcessSlot* _processes;
    private readonly ObjectSlot* _objects;
    private readonly LeaseSlot* _leases;
    // Each object slot's key hash again, packed, so a lookup scans 8 bytes a slot instead of a whole slot.
    private readonly ulong* _hashes;
    private readonly byte* _data;
    private int _self;
    private bool _disposed;

    private SharedMemoryUpdateStore(string path, FileStream file, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* origin)
    {
        Path = path;
        _file = file;
        _map = map;
        _view = view;
        _header = (StoreHeader*)origin;
        _processes = (ProcessSlot*)(origin + Page);
        _objects = (ObjectSlot*)(origin + Page + (long)ProcessSlots * sizeof(ProcessSlot));
        _leases = (LeaseSlot*)((byte*)_objects + (long)_header->ObjectSlots * sizeof(ObjectSlot));
        _hashes = (ulong*)(_leases + _header->LeaseSlots);
        _data = origin + _header->DataOffset;
    }

    /// <summary>The store's file.</summary>
    public string Path { get; }

    /// <summary>Bytes of the data area.</summary>
    public long CapacityBytes => _header->DataBytes;

    /// <summary>Objects the store holds at most.</summary>
    public int MaxObjects => _header->ObjectSlots;

    /// <summary>
    /// Opens the store at <paramref name="path"/>, creating it with the given geometry when no file is
    /// there; an existing store keeps the geometry it was created with.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The capacity or object count is outside what a store may have.</exception>
    /// <exception cref="InvalidDataException">The file is not a store of this version.</exception>
    /// <exception cref="IOException">The file system has no room for the store, or refused it.</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static SharedMemoryUpdateStore Open(string path, long capacityBytes = DefaultCapacityBytes, int maxObjects = DefaultMaxObjects)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, MinCapacityBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacityBytes, MaxCapacityBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxObjects, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxObjects, MaxObjectSlots);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("The shared-memory store needs Linux: it tells live processes from dead ones by /proc.");

        string full = System.IO.Path.GetFullPath(path);
        // Owner-only: the store holds devices' updates, which no other user on the node may read.
        var file = new FileStream(full, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite | FileShare.Delete,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            FileLock.Enter(file.SafeFileHandle);
            try
            {
                bool fresh = file.Length == 0;
                long dataOffset = DataOffsetFor(maxObjects);
                if (fresh)
                {
                    FileSpace.Reserve(file.SafeFileHandle, full, dataOffset + capacityBytes);
                    file.SetLength(dataOffset + capacityBytes);
                }
                map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
                view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.ReadWrite);
                byte* origin = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref origin);
                var header = (StoreHeader*)origin;
                if (fresh)
                {
                    header->Version = StoreHeader.CurrentVersion;
                    header->ObjectSlots = maxObjects;
                    header->LeaseSlots = maxObjects * LeasesPerObject;
                    header->ProcessSlots = ProcessSlots;
                    header->DataOffset = dataOffset;
                    header->DataBytes = capacityBytes;
                    // The magic goes last: a creator killed before it leaves a file the next opener rejects by name.
                    Volatile.Write(ref header->Magic, StoreHeader.ExpectedMagic);
                }
                else
                {
                    Validate(header, file.Length, full);
                }
                var store = new SharedMemoryUpdateStore(full, file, map, view, origin);
                store._self = store.AttachLocked();
                return store;
            }
            finally
            {
                FileLock.Exit(file.SafeFileHandle);
            }
        }
        catch
        {
            if (view is not null)
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
                view.Dispose();
            }
            map?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        OpenWriteAsync(reference, -1, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, long expectedLength, CancellationToken cancellationToken = default)
    {
        var key = KeyOf(reference, stackalloc byte[ObjectSlot.MaxKeyBytes], out ulong hash);
        cancellationToken.ThrowIfCancellationRequested();
        using (Lock())
        {
            int found = Find(key, hash, committedOnly: false);
            if (found >= 0)
            {
                ObjectSlot* existing = _objects + found;
                if (existing->State == ObjectState.Committed) throw new InvalidOperationException($"The update '{reference}' is already committed; it cannot be written again.");
                existing->Writer = _self;
                return ValueTask.FromResult<IUpdateWriter>(new Writer(this, reference, found, existing->Generation));
            }
            long reserve = expectedLength < 0 ? UnhintedReserve : Align(expectedLength);
            int slot = FreeObjectSlot();
            long offset = reserve == 0 ? 0 : Allocate(reserve, skip: -1);
            if (slot < 0 || offset < 0)
            {
                ReclaimLocked();
                slot = FreeObjectSlot();
                offset = reserve == 0 ? 0 : Allocate(reserve, skip: -1);
            }
            if (slot < 0) throw new UpdateStoreFullException(reference, reserve, LargestFree(), FullRetryAfter);
            if (offset < 0) throw new UpdateStoreFullException(reference, reserve, LargestFree(), FullRetryAfter);
            ObjectSlot* o = _objects + slot;
            o->KeyLength = key.Length;
            o->KeyHash = hash;
            _hashes[slot] = hash;
            key.CopyTo(new Span<byte>(o->Key, ObjectSlot.MaxKeyBytes));
            o->Offset = offset;
            o->Capacity = reserve;
            o->Length = 0;
            o->Generation = ++_header->NextGeneration;
            o->Writer = _self;
            o->Leases = 0;
            Volatile.Write(ref o->State, ObjectState.Pending);
            return ValueTask.FromResult<IUpdateWriter>(new Writer(this, reference, slot, o->Generation));
        }
    }

    /// <inheritdoc/>
    public ValueTask<long> GetLengthAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        var key = KeyOf(reference, stackalloc byte[ObjectSlot.MaxKeyBytes], out ulong hash);
        using (Lock())
        {
            int found = Find(key, hash, committedOnly: false);
            return ValueTask.FromResult(found < 0 ? -1L : _objects[found].Length);
        }
    }

    /// <inheritdoc/>
    public ValueTask<Stream> OpenReadAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<Stream>(new LeaseStream(Lease(reference, cancellationToken)));

    /// <inheritdoc/>
    public ValueTask<UpdateLease> LeaseAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<UpdateLease>(Lease(reference, cancellationToken));

    private MappedLease Lease(UpdateReference reference, CancellationToken cancellationToken)
    {
        var key = KeyOf(reference, stackalloc byte[ObjectSlot.MaxKeyBytes], out ulong hash);
        cancellationToken.ThrowIfCancellationRequested();
        using (Lock())
        {
            int found = Find(key, hash, committedOnly: true);
            if (found < 0) throw new UpdateNotFoundException(reference);
            int lease = FreeLeaseSlot();
            if (lease < 0)
            {
                ReclaimLocked();
                lease = FreeLeaseSlot();
            }
            if (lease < 0) throw new UpdateStoreFullException(reference, 0, LargestFree(), FullRetryAfter);
            ObjectSlot* o = _objects + found;
            if (o->Length > Array.MaxLength) throw new InvalidDataException($"'{reference}' holds {o->Length} bytes, more than one lease can lend.");
            LeaseSlot* l = _leases + lease;
            l->Object = found;
            l->Process = _self;
            l->ObjectGeneration = o->Generation;
            Volatile.Write(ref l->State, 1);
            o->Leases++;
            return new MappedLease(this, reference, lease, o->Generation, _data + o->Offset, (int)o->Length);
        }
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        var key = KeyOf(reference, stackalloc byte[ObjectSlot.MaxKeyBytes], out ulong hash);
        using (Lock())
        {
            int found = Find(key, hash, committedOnly: false);
            if (found < 0) return ValueTask.FromResult(false);
            ObjectSlot* o = _objects + found;
            Volatile.Write(ref o->State, o->Leases > 0 ? ObjectState.Deleted : ObjectState.Free);
            return ValueTask.FromResult(true);
        }
    }

    /// <summary>
    /// Frees what dead attachers held (their leases and unfinished writes) and recounts every
    /// object's leases from the lease table, healing a count a killed process left half-updated.
    /// Runs at attach and whenever the store is full; a node agent may also run it on a timer.
    /// </summary>
    /// <returns>Dead attachers reclaimed by this call.</returns>
    public int Reclaim()
    {
        using (Lock())
        {
            return ReclaimLocked();
        }
    }

    /// <summary>What the store holds now, read under its lock.</summary>
    public SharedMemoryStoreStats ReadStats()
    {
        using (Lock())
        {
            int pending = 0, committed = 0, deleted = 0, leases = 0, processes = 0;
            long used = 0;
            for (int i = 0; i < _header->ObjectSlots; i++)
            {
                ObjectSlot* o = _objects + i;
                if (o->State == ObjectState.Free) continue;
                used += o->Capacity;
                if (o->State == ObjectState.Pending) pending++;
                else if (o->State == ObjectState.Committed) committed++;
                else deleted++;
            }
            for (int i = 0; i < _header->LeaseSlots; i++) if (_leases[i].State != 0) leases++;
            for (int i = 0; i < _header->ProcessSlots; i++) if (_processes[i].State != 0) processes++;
            return new SharedMemoryStoreStats(_header->DataBytes, used, LargestFree(), pending, committed, deleted, _header->ObjectSlots, leases, processes, _header->ReclaimedProcesses);
        }
    }

    /// <summary>
    /// Detaches: this instance's leases and unfinished writes are dropped (its committed objects
    /// stay for other processes), and the mapping is closed, so memory from its leases must not be
    /// used any more.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            Enter();
            try
            {
                Span<bool> gone = stackalloc bool[ProcessSlots];
                gone[_self] = true;
                Drop(gone);
                Volatile.Write(ref _processes[_self].State, 0);
            }
            finally
            {
                Exit();
            }
            Unmap();
        }
    }

    /// <summary>The regions objects hold now (start, end) in slot order, for tests that check the allocator.</summary>
    internal List<(long Start, long End)> UsedRegions()
    {
        using (Lock())
        {
            var regions = new List<(long, long)>();
            for (int i = 0; i < _header->ObjectSlots; i++)
            {
                ObjectSlot* o = _objects + i;
                if (o->State != ObjectState.Free && o->Capacity > 0) regions.Add((o->Offset, o->Offset + o->Capacity));
            }
            return regions;
        }
    }

    /// <summary>
    /// For tests: detaches the way <c>kill -9</c> would. The slot is left naming a process that does
    /// not exist, with its leases and unfinished writes in place, for the next reclaim to find.
    /// With <paramref name="inAnotherPidNamespace"/>, the dead process was in a pid namespace this one
    /// cannot see (another pod), so no reclaim from here may judge it.
    /// </summary>
    internal void AbandonAsIfKilled(bool inAnotherPidNamespace = false)
    {
        lock (_gate)
        {
            if (_disposed) return;
            Enter();
            try
            {
                // Above any pid_max Linux allows (2^22), so no live process has it.
                _processes[_self].Pid = int.MaxValue;
                if (inAnotherPidNamespace) _processes[_self].PidNamespace = ~ProcessIdentity.Current.Namespace;
            }
            finally
            {
                Exit();
            }
            Unmap();
        }
    }

    private void Unmap()
    {
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
        _file.Dispose();
    }

    /// <summary>Appends to a pending object; the copy runs under the store lock so no other process can free the region mid-copy.</summary>
    private void Append(Writer writer, ReadOnlySpan<byte> data)
    {
        using (Lock())
        {
            ObjectSlot* o = Owned(writer, "appended to");
            long end = o->Length + data.Length;
            if (end > o->Capacity) Grow(writer, o, end);
            data.CopyTo(new Span<byte>(_data + o->Offset + o->Length, data.Length));
            o->Length = end;
        }
    }

    private void Commit(Writer writer)
    {
        using (Lock())
        {
            ObjectSlot* committed = _objects + writer.Slot;
            // Committing again is a no-op, as in every store: a caller may commit once to read and once to publish.
            if (committed->Generation == writer.Generation && committed->State == ObjectState.Committed) return;
            ObjectSlot* o = Owned(writer, "committed");
            // Give back what the reservation did not use.
            o->Capacity = Align(o->Length);
            if (o->Capacity == 0) o->Offset = 0;
            Volatile.Write(ref o->State, ObjectState.Committed);
        }
    }

    private long LengthOf(Writer writer)
    {
        lock (_gate)
        {
            if (_disposed) return -1;
            ObjectSlot* o = _objects + writer.Slot;
            return o->Generation == writer.Generation && o->State == ObjectState.Pending ? o->Length : -1;
        }
    }

    private ObjectSlot* Owned(Writer writer, string verb)
    {
        ObjectSlot* o = _objects + writer.Slot;
        if (o->Generation != writer.Generation || o->State == ObjectState.Free || o->State == ObjectState.Deleted)
            throw new InvalidOperationException($"The update '{writer.Reference}' was deleted; it cannot be {verb}.");
        if (o->State == ObjectState.Committed) throw new InvalidOperationException($"The update '{writer.Reference}' is committed; it cannot be {verb}.");
        return o;
    }

    /// <summary>Makes room for <paramref name="end"/> bytes: in place when the next region is free, else by moving (one copy).</summary>
    private void Grow(Writer writer, ObjectSlot* o, long end)
    {
        long wanted = Math.Max(Align(end), Math.Min(Align(o->Capacity * 2), _header->DataBytes));
        if (o->Capacity > 0 && FitsInPlace(writer.Slot, o->Offset, wanted))
        {
            o->Capacity = wanted;
            return;
        }
        long offset = Allocate(wanted, skip: writer.Slot);
        if (offset < 0)
        {
            ReclaimLocked();
            offset = Allocate(wanted, skip: writer.Slot);
        }
        if (offset < 0) throw new UpdateStoreFullException(writer.Reference, wanted, LargestFree(), FullRetryAfter);
        // skip: the old region may overlap the new one, so move, not copy.
        Buffer.MemoryCopy(_data + o->Offset, _data + offset, wanted, o->Length);
        o->Offset = offset;
        o->Capacity = wanted;
    }

    private bool FitsInPlace(int slot, long offset, long capacity)
    {
        if (offset + capacity > _header->DataBytes) return false;
        for (int i = 0; i < _header->ObjectSlots; i++)
        {
            if (i == slot) continue;
            ObjectSlot* o = _objects + i;
            if (o->State == ObjectState.Free || o->Capacity == 0) continue;
            if (o->Offset < offset + capacity && offset < o->Offset + o->Capacity) return false;
        }
        return true;
    }

    private void ReleaseLease(MappedLease lease)
    {
        lock (_gate)
        {
            if (_disposed) return;
            Enter();
            try
            {
                LeaseSlot* l = _leases + lease.Slot;
                if (l->State == 0 || l->Process != _self || l->ObjectGeneration != lease.Generation) return; // dropped by a reclaim
                Volatile.Write(ref l->State, 0);
                ObjectSlot* o = _objects + l->Object;
                if (o->Generation != lease.Generation) return;
                o->Leases = Math.Max(0, o->Leases - 1);
                if (o->State == ObjectState.Deleted && o->Leases == 0) Volatile.Write(ref o->State, ObjectState.Free);
            }
            finally
            {
                Exit();
            }
        }
    }

    /// <summary>Takes a process slot after reclaiming dead attachers; file lock held by <see cref="Open"/>.</summary>
    private int AttachLocked()
    {
        ReclaimLocked();
        var me = ProcessIdentity.Current;
        for (int i = 0; i < _header->ProcessSlots; i++)
        {
            ProcessSlot* p = _processes + i;
            if (p->State != 0) continue;
            p->Pid = me.Pid;
            p->StartTime = me.StartTime;
            p->PidNamespace = me.Namespace;
            Volatile.Write(ref p->State, 1);
            return i;
        }
        throw new InvalidOperationException($"The shared-memory store '{Path}' already has {_header->ProcessSlots} live attachers, the most it takes.");
    }

    /// <summary>Frees dead attachers' holdings and recounts leases; lock held.</summary>
    private int ReclaimLocked()
    {
        Span<bool> dead = stackalloc bool[ProcessSlots];
        int reclaimed = 0;
        for (int i = 0; i < _header->ProcessSlots; i++)
        {
            ProcessSlot* p = _processes + i;
            if (p->State == 0 || new ProcessIdentity(p->Pid, p->StartTime, p->PidNamespace).IsAlive()) continue;
            dead[i] = true;
            reclaimed++;
        }
        Drop(dead);
        for (int i = 0; i < _header->ProcessSlots; i++)
        {
            if (!dead[i]) continue;
            Volatile.Write(ref _processes[i].State, 0);
            _header->ReclaimedProcesses++;
        }
        return reclaimed;
    }

    /// <summary>Drops the leases and unfinished writes of the marked process slots, then recounts every object's leases; lock held.</summary>
    private void Drop(ReadOnlySpan<bool> gone)
    {
        for (int i = 0; i < _header->LeaseSlots; i++)
        {
            LeaseSlot* l = _leases + i;
            if (l->State != 0 && (uint)l->Process < (uint)gone.Length && gone[l->Process]) Volatile.Write(ref l->State, 0);
        }
        for (int i = 0; i < _header->ObjectSlots; i++)
        {
            ObjectSlot* o = _objects + i;
            if (o->State == ObjectState.Pending && (uint)o->Writer < (uint)gone.Length && gone[o->Writer]) Volatile.Write(ref o->State, ObjectState.Free);
            else if (o->State != ObjectState.Free) o->Leases = 0;
        }
        for (int i = 0; i < _header->LeaseSlots; i++)
        {
            LeaseSlot* l = _leases + i;
            if (l->State == 0) continue;
            ObjectSlot* o = (uint)l->Object < (uint)_header->ObjectSlots ? _objects + l->Object : null;
            if (o is null || o->State == ObjectState.Free || o->Generation != l->ObjectGeneration) Volatile.Write(ref l->State, 0);
            else o->Leases++;
        }
        for (int i = 0; i < _header->ObjectSlots; i++)
        {
            ObjectSlot* o = _objects + i;
            if (o->State == ObjectState.Deleted && o->Leases == 0) Volatile.Write(ref o->State, ObjectState.Free);
        }
    }

    /// <summary>First fit over the used regions sorted by offset; -1 when no gap holds <paramref name="bytes"/>. Lock held.</summary>
    private long Allocate(long bytes, int skip) => Gaps(bytes, skip, out _);

    private long LargestFree()
    {
        Gaps(long.MaxValue, -1, out long largest);
        return largest;
    }

    private long Gaps(long bytes, int skip, out long largest)
    {
        int slots = _header->ObjectSlots;
        long[] starts = ArrayPool<long>.Shared.Rent(slots);
        long[] ends = ArrayPool<long>.Shared.Rent(slots);
        try
        {
            int n = 0;
            for (int i = 0; i < slots; i++)
            {
                ObjectSlot* o = _objects + i;
                if (i == skip || o->State == ObjectState.Free || o->Capacity == 0) continue;
                starts[n] = o->Offset;
                ends[n] = o->Offset + o->Capacity;
                n++;
            }
            Array.Sort(starts, ends, 0, n);
            long cursor = 0;
            largest = 0;
            for (int i = 0; i <= n; i++)
            {
                long next = i < n ? starts[i] : _header->DataBytes;
                long gap = next - cursor;
                if (gap >= bytes) return cursor;
                largest = Math.Max(largest, gap);
                if (i < n) cursor = Math.Max(cursor, ends[i]);
            }
            return -1;
        }
        finally
        {
            ArrayPool<long>.Shared.Return(starts);
            ArrayPool<long>.Shared.Return(ends);
        }
    }

    private int Find(ReadOnlySpan<byte> key, ulong hash, bool committedOnly)
    {
        for (int i = 0; i < _header->ObjectSlots; i++)
        {
            if (_hashes[i] != hash) continue;
            ObjectSlot* o = _objects + i;
            int state = Volatile.Read(ref o->State);
            if (state != ObjectState.Committed && (committedOnly || state != ObjectState.Pending)) continue;
            if (o->KeyHash != hash || o->KeyLength != key.Length) continue;
            if (new ReadOnlySpan<byte>(o->Key, o->KeyLength).SequenceEqual(key)) return i;
        }
        return -1;
    }

    private int FreeObjectSlot()
    {
        for (int i = 0; i < _header->ObjectSlots; i++) if (_objects[i].State == ObjectState.Free) return i;
        return -1;
    }

    private int FreeLeaseSlot()
    {
        for (int i = 0; i < _header->LeaseSlots; i++) if (_leases[i].State == 0) return i;
        return -1;
    }

    /// <summary>Takes the monitor (threads) and the file lock (processes); dispose it to release both.</summary>
    private StoreLock Lock()
    {
        Monitor.Enter(_gate);
        try
        {
            Enter();
        }
        catch
        {
            Monitor.Exit(_gate);
            throw;
        }
        return new StoreLock(this);
    }

    private void Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        FileLock.Enter(_file.SafeFileHandle);
    }

    private void Exit() => FileLock.Exit(_file.SafeFileHandle);

    /// <summary>The store's two locks, held from <see cref="Lock"/> until <see cref="Dispose"/>.</summary>
    private readonly ref struct StoreLock(SharedMemoryUpdateStore store)
    {
        public void Dispose()
        {
            try
            {
                store.Exit();
            }
            finally
            {
                Monitor.Exit(store._gate);
            }
        }
    }

    private static long Align(long bytes) => (bytes + Alignment - 1) & ~(long)(Alignment - 1);

    private static long DataOffsetFor(int maxObjects)
    {
        long tables = Page + (long)ProcessSlots * sizeof(ProcessSlot) + (long)maxObjects * sizeof(ObjectSlot) + (long)maxObjects * LeasesPerObject * sizeof(LeaseSlot) + (long)maxObjects * sizeof(ulong);
        return (tables + Page - 1) / Page * Page;
    }

    private static void Validate(StoreHeader* header, long fileLength, string path)
    {
        string? problem =
            header->Magic != StoreHeader.ExpectedMagic ? "it does not start with the store's magic number (not a store, or its creator was killed while making it)"
            : header->Version != StoreHeader.CurrentVersion ? $"it is version {header->Version}; this build reads version {StoreHeader.CurrentVersion}"
            : header->ObjectSlots is < 1 or > MaxObjectSlots || header->LeaseSlots != header->ObjectSlots * LeasesPerObject || header->ProcessSlots != ProcessSlots ? "its slot counts are out of range"
            : header->DataOffset != DataOffsetFor(header->ObjectSlots) ? "its tables do not end where its data begins"
            : header->DataBytes < MinCapacityBytes || header->DataOffset + header->DataBytes != fileLength ? $"its data area ({header->DataBytes} bytes) does not fill the {fileLength}-byte file"
            : null;
        if (problem is not null) throw new InvalidDataException($"'{path}' is not a usable shared-memory update store: {problem}. Remove it (no process may be using it) to start afresh.");
    }

    /// <summary>The reference's key as bytes in <paramref name="buffer"/>, and their hash.</summary>
    private static Span<byte> KeyOf(UpdateReference reference, Span<byte> buffer, out ulong hash)
    {
        if (reference.Key is null) throw new ArgumentException("The update reference is the default value; create it with a key.", nameof(reference));
        // UpdateReference holds printable ASCII, at most 256 characters: one byte each.
        var key = buffer[..Encoding.ASCII.GetBytes(reference.Key, buffer)];
        hash = Hash(key);
        return key;
    }

    /// <summary>FNV-1a: stable across processes, unlike <see cref="string.GetHashCode()"/>.</summary>
    private static ulong Hash(ReadOnlySpan<byte> key)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in key) hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }

    private sealed class Writer(SharedMemoryUpdateStore store, UpdateReference reference, int slot, long generation) : IUpdateWriter
    {
        public UpdateReference Reference { get; } = reference;
        public int Slot { get; } = slot;
        public long Generation { get; } = generation;

        public long Length => Math.Max(0, store.LengthOf(this));

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            store.Append(this, data.Span);
            return ValueTask.CompletedTask;
        }

        public ValueTask CommitAsync(CancellationToken cancellationToken = default)
        {
            store.Commit(this);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class MappedLease : UpdateLease
    {
        private readonly SharedMemoryUpdateStore _store;
        private readonly MappedMemory _memory;

        public MappedLease(SharedMemoryUpdateStore store, UpdateReference reference, int slot, long generation, byte* pointer, int length)
        {
            _store = store;
            Reference = reference;
            Slot = slot;
            Generation = generation;
            Pointer = pointer;
            Length = length;
            _memory = new MappedMemory(pointer, length);
        }

        public int Slot { get; }
        public long Generation { get; }
        public byte* Pointer { get; }
        public int Length { get; }
        public override UpdateReference Reference { get; }
        public override ReadOnlyMemory<byte> Memory => _memory.Memory;
        public override bool Copied => false;
        protected override void Release() => _store.ReleaseLease(this);
    }

    /// <summary>A stream over a lease's bytes that gives the lease back when disposed.</summary>
    private sealed class LeaseStream(MappedLease lease) : UnmanagedMemoryStream(lease.Pointer, lease.Length)
    {
        protected override void Dispose(bool disposing)
        {
            lease.Dispose();
            base.Dispose(disposing);
        }
    }
}
