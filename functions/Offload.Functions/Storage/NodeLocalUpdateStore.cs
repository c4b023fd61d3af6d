using Offload.Aggregator.Storage;

namespace Offload.Functions.Storage;

/// <summary>
/// The Dapr deployment's store when a node store is configured (<c>serve --node-store</c>): client
/// updates and partial sums, the bytes that hop between aggregators, live in the node's shared
/// memory and pass by reference; global models and server states, which every node and the
/// gateway read, stay in the shared Dapr state store. Routed by <see cref="StoreKeys"/>' namespaces.
/// Every process on a node attaches to that node's store; an object another node holds is pulled
/// from that node's agent (<see cref="IRemoteObjects"/>) into this node's store, folded from there,
/// and deleted on both (<see cref="LeaseAsync(UpdateReference, string?, CancellationToken)"/>,
/// <see cref="DeleteAsync(UpdateReference, string?, CancellationToken)"/>).
/// </summary>
public sealed class NodeLocalUpdateStore : IUpdateStore
{
    private readonly IRemoteObjects? _peers;
    private long _pulls;
    private long _pulledBytes;
    private long _deleteFailures;

    /// <summary>Routes updates and partials to <paramref name="node"/>, everything else to <paramref name="shared"/>.</summary>
    /// <param name="node">The node's store (updates and partials).</param>
    /// <param name="shared">The shared store (models and server states).</param>
    /// <param name="nodeName">This node's name (<c>NODE_NAME</c>): objects an event says another node holds are pulled from it; null: every object is taken to be local.</param>
    /// <param name="peers">The other nodes' agents; null: an object on another node cannot be reached (a redelivery is asked for, with the reason).</param>
    public NodeLocalUpdateStore(IUpdateStore node, IUpdateStore shared, string? nodeName = null, IRemoteObjects? peers = null)
    {
        Node = node ?? throw new ArgumentNullException(nameof(node));
        Shared = shared ?? throw new ArgumentNullException(nameof(shared));
        if (nodeName is not null && Names.NodeTopics.NodeProblem(nodeName, nameof(nodeName)) is { } problem) throw new ArgumentException(problem, nameof(nodeName));
        NodeName = nodeName;
        _peers = peers;
    }

    /// <summary>The node's store (updates and partials).</summary>
    public IUpdateStore Node { get; }

    /// <summary>The shared store (models and server states).</summary>
    public IUpdateStore Shared { get; }

    /// <summary>This node's name, or null when none was given.</summary>
    public string? NodeName { get; }

    /// <summary>Objects pulled from other nodes so far.</summary>
    public long CrossNodePulls => Interlocked.Read(ref _pulls);

    /// <summary>Bytes those pulls moved over the network.</summary>
    public long CrossNodeBytes => Interlocked.Read(ref _pulledBytes);

    /// <summary>Whether <paramref name="reference"/> belongs on the node: an update or a partial sum.</summary>
    public static bool IsNodeLocal(UpdateReference reference) =>
        reference.Key is { } key && (key.StartsWith(StoreKeys.UpdatePrefix, StringComparison.Ordinal) || key.StartsWith(StoreKeys.PartialPrefix, StringComparison.Ordinal));

    private IUpdateStore For(UpdateReference reference) => IsNodeLocal(reference) ? Node : Shared;

    /// <summary>Whether <paramref name="owner"/> names another node than this one, for a node-local object.</summary>
    private bool IsElsewhere(UpdateReference reference, string? owner) =>
        owner is not null && NodeName is not null && owner != NodeName && IsNodeLocal(reference);

    /// <summary>
    /// Borrows <paramref name="reference"/>, which <paramref name="owner"/>'s store holds: from this
    /// node's store, after pulling it from the owner's agent when the owner is another node and no
    /// copy is here yet. The copy stays here until <see cref="DeleteAsync(UpdateReference, string?, CancellationToken)"/>,
    /// so a redelivered step reads it without crossing again.
    /// </summary>
    /// <exception cref="UpdateNotFoundException">Neither this node nor the owner holds it committed.</exception>
    /// <exception cref="IOException">The owner is another node and no agent is known for it.</exception>
    public async ValueTask<UpdateLease> LeaseAsync(UpdateReference reference, string? owner, CancellationToken cancellationToken = default)
    {
        if (!IsElsewhere(reference, owner)) return await For(reference).LeaseAsync(reference, cancellationToken).ConfigureAwait(false);
        try
        {
            return await Node.LeaseAsync(reference, cancellationToken).ConfigureAwait(false);
        }
        catch (UpdateNotFoundException)
        {
            // Not here yet: the one cross-node hop, into this node's store.
        }
        long bytes = await PeersFor(owner!, reference).PullAsync(owner!, reference, Node, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _pulls);
        Interlocked.Add(ref _pulledBytes, bytes);
        return await Node.LeaseAsync(reference, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes <paramref name="reference"/> here and, when <paramref name="owner"/> is another node,
    /// there too; true when either held it. The remote delete is best effort: it runs after the output
    /// was announced, when a failure must not stop the step's other deletes (nor ask for a redelivery
    /// that would find the step done), so an unreachable owner keeps its original, counted in
    /// <see cref="CrossNodeDeleteFailures"/>.
    /// </summary>
    public async ValueTask<bool> DeleteAsync(UpdateReference reference, string? owner, CancellationToken cancellationToken = default)
    {
        bool here = await For(reference).DeleteAsync(reference, cancellationToken).ConfigureAwait(false);
        if (!IsElsewhere(reference, owner)) return here;
        try
        {
            bool there = await PeersFor(owner!, reference).DeleteAsync(owner!, reference, cancellationToken).ConfigureAwait(false);
            return here || there;
        }
        catch (Exception e) when (e is Grpc.Core.RpcException or IOException or HttpRequestException)
        {
            Interlocked.Increment(ref _deleteFailures);
            return here;
        }
    }

    /// <summary>Originals on other nodes that could not be deleted after their copy was folded here.</summary>
    public long CrossNodeDeleteFailures => Interlocked.Read(ref _deleteFailures);

    private IRemoteObjects PeersFor(string owner, UpdateReference reference) =>
        _peers is not null && _peers.Knows(owner) ? _peers
            : throw new IOException($"'{reference}' is held by node '{owner}', and this node ('{NodeName}') knows no agent for it: give --node-peer {owner}=http://HOST:PORT.");

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
