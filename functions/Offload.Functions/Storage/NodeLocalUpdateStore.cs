using Offload.Aggregator.Storage;

namespace Offload.Functions.Storage;

/// <summary>
/// The Dapr deployment's store when a node store is configured (<c>serve --node-store</c>): client
/// updates and partial sums, the bytes that hop between aggregators, live in the node's shared
/// memory and pass by reference; global models and server states, which every node and the
/// gateway read, stay in the shared Dapr state store. Routed by <see cref="StoreKeys"/>' namespaces.
/// Every process that folds a node's updates must attach to that node's store: the functions
/// instances and the gateway on one node (cross-node pulls are the node agent's, not yet wired here).
/// </summary>
public sealed class NodeLocalUpdateStore(IUpdateStore node, IUpdateStore shared) : IUpdateStore
{
    /// <summary>The node's store (updates and partials).</summary>
    public IUpdateStore Node { get; } = node ?? throw new ArgumentNullException(nameof(node));

    /// <summary>The shared store (models and server states).</summary>
    public IUpdateStore Shared { get; } = shared ?? throw new ArgumentNullException(nameof(shared));

    /// <summary>Whether <paramref name="reference"/> belongs on the node: an update or a partial sum.</summary>
    public static bool IsNodeLocal(UpdateReference reference) =>
        reference.Key is { } key && (key.StartsWith(StoreKeys.UpdatePrefix, StringComparison.Ordinal) || key.StartsWith(StoreKeys.PartialPrefix, StringComparison.Ordinal));

    private IUpdateStore For(UpdateReference reference) => IsNodeLocal(reference) ? Node : Shared;

    /// <inheritdoc/>
    public ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        For(reference).OpenWriteAsync(reference, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, long expectedLength, CancellationToken cancellationToken = default) =>
        For(reference).OpenWriteAsync(reference, expectedLength, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<long> GetLengthAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        For(reference).GetLengthAsync(reference, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<Stream> OpenReadAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        For(reference).OpenReadAsync(reference, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<UpdateLease> LeaseAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        For(reference).LeaseAsync(reference, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        For(reference).DeleteAsync(reference, cancellationToken);
}
