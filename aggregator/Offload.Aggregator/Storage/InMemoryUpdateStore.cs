using System.Buffers;
using System.Collections.Concurrent;

namespace Offload.Aggregator.Storage;

/// <summary>
/// <see cref="IUpdateStore"/> in this process's memory: each payload is a list of fixed-size segments
/// (rented from an <see cref="ArrayPool{T}"/> up to 1 MiB, allocated to size above), so writing a
/// chunk copies it once into the store.
/// A payload opened with its expected length gets segments of at least that size, so it lies in one
/// segment that <see cref="LeaseAsync"/> lends without a copy; without the hint no buffer of the
/// payload's size is allocated. Segments go back to the pool when a payload is deleted and its last
/// reader (stream or lease) is disposed. <see cref="LiveBytes"/> and
/// <see cref="PeakLiveBytes"/> count what is held, for tests and benchmarks.
/// </summary>
public sealed class InMemoryUpdateStore : IUpdateStore
{
    /// <summary>Bytes per segment unless the constructor says otherwise.</summary>
    public const int DefaultSegmentBytes = 64 * 1024;

    // Segments above this are allocated to their exact size, not rented: the pool rounds up to a power
    // of two (a 45 MB payload would hold 64 MiB) and keeps what it is given back.
    private const int LargestPooledSegment = 1024 * 1024;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ArrayPool<byte> _pool;
    private readonly int _segmentBytes;
    private long _liveBytes;
    private long _peakLiveBytes;

    /// <summary>Creates an empty store.</summary>
    /// <param name="segmentBytes">Size of each pooled segment.</param>
    /// <param name="pool">The pool segments come from; the shared pool by default.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="segmentBytes"/> is below 1 KiB or above 16 MiB.</exception>
    public InMemoryUpdateStore(int segmentBytes = DefaultSegmentBytes, ArrayPool<byte>? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentBytes, 1024);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(segmentBytes, 16 * 1024 * 1024);
        _segmentBytes = segmentBytes;
        _pool = pool ?? ArrayPool<byte>.Shared;
    }

    /// <summary>Payloads held, pending or committed.</summary>
    public int Count => _entries.Count;

    /// <summary>Payload bytes held now (pending and committed, not yet deleted).</summary>
    public long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>The most payload bytes held at once since the store was created.</summary>
    public long PeakLiveBytes => Interlocked.Read(ref _peakLiveBytes);

    /// <inheritdoc/>
    public ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        OpenWriteAsync(reference, 0, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, long expectedLength, CancellationToken cancellationToken = default)
    {
        EnsureReference(reference);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedLength);
        cancellationToken.ThrowIfCancellationRequested();
        // Segments as large as the declared payload (bounded by one array) keep it contiguous for leases.
        int segment = (int)Math.Clamp(expectedLength, _segmentBytes, Array.MaxLength);
        var entry = _entries.GetOrAdd(reference.Key, _ => new Entry(this, reference, segment));
        lock (entry)
        {
            if (entry.Committed) throw new InvalidOperationException($"The update '{reference.Key}' is already committed; it cannot be written again.");
            if (entry.Deleted) throw new InvalidOperationException($"The update '{reference.Key}' was deleted while it was being opened; open it again.");
        }
        return ValueTask.FromResult<IUpdateWriter>(entry);
    }

    /// <inheritdoc/>
    public ValueTask<long> GetLengthAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        EnsureReference(reference);
        if (!_entries.TryGetValue(reference.Key, out var entry)) return ValueTask.FromResult(-1L);
        lock (entry) return ValueTask.FromResult(entry.Deleted ? -1L : entry.Length);
    }

    /// <inheritdoc/>
    public ValueTask<Stream> OpenReadAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        EnsureReference(reference);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_entries.TryGetValue(reference.Key, out var entry)) throw new UpdateNotFoundException(reference);
        lock (entry)
        {
            if (!entry.Committed || entry.Deleted) throw new UpdateNotFoundException(reference);
            entry.Readers++;
            return ValueTask.FromResult<Stream>(new SegmentReadStream(entry));
        }
    }

    /// <inheritdoc/>
    public ValueTask<UpdateLease> LeaseAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        EnsureReference(reference);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_entries.TryGetValue(reference.Key, out var entry)) throw new UpdateNotFoundException(reference);
        lock (entry)
        {
            if (!entry.Committed || entry.Deleted) throw new UpdateNotFoundException(reference);
            // Several segments are not one span: copy them out once, as a stream-only store would.
            if (entry.Segments.Count > 1) return PooledUpdateLease.ReadAsync(this, reference, cancellationToken);
            entry.Readers++;
            return ValueTask.FromResult<UpdateLease>(new SegmentLease(entry));
        }
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        EnsureReference(reference);
        if (!_entries.TryRemove(reference.Key, out var entry)) return ValueTask.FromResult(false);
        lock (entry)
        {
            entry.Deleted = true;
            if (entry.Readers == 0) entry.ReleaseSegments();
        }
        return ValueTask.FromResult(true);
    }

    private static void EnsureReference(UpdateReference reference)
    {
        if (reference.Key is null) throw new ArgumentException("The update reference is the default value; create it with a key.", nameof(reference));
    }

    private void Account(long bytes)
    {
        long live = Interlocked.Add(ref _liveBytes, bytes);
        long peak;
        while (live > (peak = Interlocked.Read(ref _peakLiveBytes)) && Interlocked.CompareExchange(ref _peakLiveBytes, live, peak) != peak) { }
    }

    /// <summary>One payload: its segments, guarded by locking the entry itself.</summary>
    private sealed class Entry(InMemoryUpdateStore store, UpdateReference reference, int segmentBytes) : IUpdateWriter
    {
        public readonly List<byte[]> Segments = [];
        public bool Committed;
        public bool Deleted;
        public int Readers;
        private long _length;

        public UpdateReference Reference { get; } = reference;

        public long Length
        {
            get { lock (this) return _length; }
        }

        public int SegmentBytes => segmentBytes;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (this)
            {
                if (Committed) throw new InvalidOperationException($"The update '{Reference.Key}' is committed; it cannot be appended to.");
                if (Deleted) throw new InvalidOperationException($"The update '{Reference.Key}' was deleted.");
                var source = data.Span;
                int size = segmentBytes;
                while (!source.IsEmpty)
                {
                    int within = (int)(_length % size);
                    if (within == 0 && _length / size == Segments.Count)
                    {
                        Segments.Add(size > LargestPooledSegment ? GC.AllocateUninitializedArray<byte>(size) : store._pool.Rent(size));
                        store.Account(size);
                    }
                    int n = Math.Min(size - within, source.Length);
                    source[..n].CopyTo(Segments[(int)(_length / size)].AsSpan(within));
                    source = source[n..];
                    _length += n;
                }
            }
            return ValueTask.CompletedTask;
        }

        public ValueTask CommitAsync(CancellationToken cancellationToken = default)
        {
            lock (this)
            {
                if (Deleted) throw new InvalidOperationException($"The update '{Reference.Key}' was deleted before it was committed.");
                Committed = true;
            }
            return ValueTask.CompletedTask;
        }

        public long CommittedLength()
        {
            lock (this) return _length;
        }

        /// <summary>Returns the segments to the pool; call with the entry locked.</summary>
        public void ReleaseSegments()
        {
            foreach (var segment in Segments)
            {
                if (segmentBytes <= LargestPooledSegment) store._pool.Return(segment);
                store.Account(-segmentBytes);
            }
            Segments.Clear();
        }

        public void ReaderClosed()
        {
            lock (this)
            {
                Readers--;
                if (Deleted && Readers == 0) ReleaseSegments();
            }
        }
    }

    /// <summary>Lends a committed entry's single segment; the entry is immutable while it is leased.</summary>
    private sealed class SegmentLease(Entry entry) : UpdateLease
    {
        private readonly ReadOnlyMemory<byte> _memory = entry.Segments.Count == 0
            ? ReadOnlyMemory<byte>.Empty
            : entry.Segments[0].AsMemory(0, (int)entry.CommittedLength());

        public override UpdateReference Reference => entry.Reference;
        public override ReadOnlyMemory<byte> Memory => _memory;
        public override bool Copied => false;
        protected override void Release() => entry.ReaderClosed();
    }

    /// <summary>Reads a committed entry's segments in order; the entry is immutable while it is open.</summary>
    private sealed class SegmentReadStream(Entry entry) : Stream
    {
        private readonly long _length = entry.CommittedLength();
        private long _position;
        private bool _closed;

        public override bool CanRead => !_closed;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => _length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException("The stream reads forward only.");
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            int total = 0;
            int size = entry.SegmentBytes;
            while (!buffer.IsEmpty && _position < _length)
            {
                int within = (int)(_position % size);
                int n = (int)Math.Min(Math.Min(size - within, buffer.Length), _length - _position);
                entry.Segments[(int)(_position / size)].AsSpan(within, n).CopyTo(buffer);
                buffer = buffer[n..];
                _position += n;
                total += n;
            }
            return total;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("The stream reads forward only.");
        public override void SetLength(long value) => throw new NotSupportedException("The stream is read-only.");
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("The stream is read-only.");

        protected override void Dispose(bool disposing)
        {
            if (!_closed)
            {
                _closed = true;
                entry.ReaderClosed();
            }
            base.Dispose(disposing);
        }
    }
}
