namespace Offload.Aggregator.Storage;

/// <summary>
/// The node stores of other nodes, each reached through its node agent: the cross-node hop of an
/// update or partial sum that an aggregator on this node must fold. Implemented over gRPC
/// (<c>PullObject</c>, <c>DeleteObject</c>) by the gateway project's <c>NodeAgentPeers</c>.
/// </summary>
public interface IRemoteObjects
{
    /// <summary>Whether an agent is known for <paramref name="node"/>.</summary>
    bool Knows(string node);

    /// <summary>
    /// Copies the committed object <paramref name="reference"/> from <paramref name="node"/>'s store into
    /// <paramref name="destination"/> under the same key and commits it (resuming a copy a failed pull left there).
    /// </summary>
    /// <returns>Bytes that crossed the network.</returns>
    /// <exception cref="UpdateNotFoundException">That node holds nothing committed under the key.</exception>
    /// <exception cref="KeyNotFoundException">No agent is known for <paramref name="node"/>.</exception>
    Task<long> PullAsync(string node, UpdateReference reference, IUpdateStore destination, CancellationToken cancellationToken = default);

    /// <summary>Deletes <paramref name="reference"/> from <paramref name="node"/>'s store (after its bytes were folded here); false when nothing was there.</summary>
    /// <exception cref="KeyNotFoundException">No agent is known for <paramref name="node"/>.</exception>
    Task<bool> DeleteAsync(string node, UpdateReference reference, CancellationToken cancellationToken = default);
}
