namespace Offload.Aggregator.Storage;

/// <summary>
/// A committed payload's bytes, lent by the store that holds them: a reader folds straight from
/// <see cref="Memory"/> instead of copying the payload into a buffer of its own. The store keeps the
/// bytes alive (even past a delete) until the lease is disposed; <see cref="Memory"/> must not be
/// used after that. Dispose it once, on the thread that is done with it.
/// </summary>
public abstract class UpdateLease : IDisposable
{
    private int _released;

    /// <summary>The payload this lease covers.</summary>
    public abstract UpdateReference Reference { get; }

    /// <summary>The payload's bytes; read-only, valid until the lease is disposed.</summary>
    public abstract ReadOnlyMemory<byte> Memory { get; }

    /// <summary>
    /// True when the store copied the bytes to lend them (a store with no memory a reader can map);
    /// false when <see cref="Memory"/> is the store's own copy. For counting copies per update.
    /// </summary>
    public abstract bool Copied { get; }

    /// <summary>Gives the bytes back to the store; the second and later calls do nothing.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>Returns the bytes to their store; called once.</summary>
    protected abstract void Release();
}
