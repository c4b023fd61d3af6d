namespace Offload.Aggregator.Storage;

/// <summary>
/// Put and get of update payload bytes by <see cref="UpdateReference"/>: the claim-check store behind
/// <c>UpdateArrived</c> events. The gateway streams an upload in through
/// <see cref="OpenWriteAsync(UpdateReference, long, CancellationToken)"/>; an aggregator borrows it
/// with <see cref="LeaseAsync"/> (or reads it with <see cref="OpenReadAsync"/>) and deletes it once
/// folded. Implementations: <see cref="InMemoryUpdateStore"/> (one process), the node's shared-memory
/// store (processes on one node), a Dapr state store (anywhere). All members are thread-safe.
/// </summary>
public interface IUpdateStore
{
    /// <summary>
    /// Opens the pending payload under <paramref name="reference"/> for appending, creating it empty
    /// if absent; a resumed upload gets back what an earlier writer stored.
    /// </summary>
    /// <exception cref="InvalidOperationException">The payload is already committed.</exception>
    ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="OpenWriteAsync(UpdateReference, CancellationToken)"/> for a payload expected to
    /// hold <paramref name="expectedLength"/> bytes (an upload's declared length), so a store that
    /// lays payloads out contiguously can reserve the room once instead of growing and copying.
    /// A hint only: writing more or fewer bytes is still correct.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expectedLength"/> is negative.</exception>
    /// <exception cref="UpdateStoreFullException">The store has no room for the payload now; try again later.</exception>
    ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, long expectedLength, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expectedLength);
        return OpenWriteAsync(reference, cancellationToken);
    }

    /// <summary>Bytes held for <paramref name="reference"/> (pending or committed), or -1 when nothing is.</summary>
    ValueTask<long> GetLengthAsync(UpdateReference reference, CancellationToken cancellationToken = default);

    /// <summary>A read-only stream over a committed payload; dispose it when done.</summary>
    /// <exception cref="UpdateNotFoundException">No committed payload is stored under <paramref name="reference"/>.</exception>
    ValueTask<Stream> OpenReadAsync(UpdateReference reference, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lends the committed payload's bytes until the lease is disposed; a store whose memory a
    /// reader can see lends it without a copy, any other reads it once into a pooled buffer.
    /// The payload outlives a <see cref="DeleteAsync"/> until its last lease is disposed.
    /// </summary>
    /// <exception cref="UpdateNotFoundException">No committed payload is stored under <paramref name="reference"/>.</exception>
    ValueTask<UpdateLease> LeaseAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        PooledUpdateLease.ReadAsync(this, reference, cancellationToken);

    /// <summary>Removes the payload, pending or committed; true when something was removed.</summary>
    ValueTask<bool> DeleteAsync(UpdateReference reference, CancellationToken cancellationToken = default);
}
