namespace Offload.Aggregator.Storage;

/// <summary>
/// Put and get of update payload bytes by <see cref="UpdateReference"/>: the claim-check store behind
/// <c>UpdateArrived</c> events. The gateway streams an upload in through <see cref="OpenWriteAsync"/>;
/// an aggregator reads it back with <see cref="OpenReadAsync"/> and deletes it once folded.
/// Implementations: <see cref="InMemoryUpdateStore"/> (one process); shared memory on a node, a
/// state store or a gRPC pull across nodes later. All members are thread-safe.
/// </summary>
public interface IUpdateStore
{
    /// <summary>
    /// Opens the pending payload under <paramref name="reference"/> for appending, creating it empty
    /// if absent; a resumed upload gets back what an earlier writer stored.
    /// </summary>
    /// <exception cref="InvalidOperationException">The payload is already committed.</exception>
    ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, CancellationToken cancellationToken = default);

    /// <summary>Bytes held for <paramref name="reference"/> (pending or committed), or -1 when nothing is.</summary>
    ValueTask<long> GetLengthAsync(UpdateReference reference, CancellationToken cancellationToken = default);

    /// <summary>A read-only stream over a committed payload; dispose it when done.</summary>
    /// <exception cref="UpdateNotFoundException">No committed payload is stored under <paramref name="reference"/>.</exception>
    ValueTask<Stream> OpenReadAsync(UpdateReference reference, CancellationToken cancellationToken = default);

    /// <summary>Removes the payload, pending or committed; true when something was removed.</summary>
    ValueTask<bool> DeleteAsync(UpdateReference reference, CancellationToken cancellationToken = default);
}
