using Offload.Functions.Events;
using Offload.Functions.Names;
using Offload.Functions.Storage;

namespace Offload.Functions.Rounds;

/// <summary>One update registered with its round; its position decides its leaf.</summary>
/// <param name="ContributionId">Idempotency key: the update's store reference (one per client and task).</param>
/// <param name="ClientId">The client that sent it.</param>
/// <param name="SampleCount">Samples it was trained on.</param>
/// <param name="BaseVersion">The model version it was trained from.</param>
/// <param name="Index">Arrival order within the round, from 0 (set by the actor).</param>
/// <param name="Node">The node whose store holds the update (null: a store every node reads).</param>
/// <param name="Leaf">The leaf it folds into (set by the actor, by <see cref="Node"/>); -1 in state saved before leaves were chosen by node, where the arrival order decides.</param>
/// <param name="Scale">The staleness scale its announcement fixed (<see cref="Aggregator.Events.UpdateArrived.Scale"/>); null: the strategy's.</param>
public sealed record Arrival(string ContributionId, string ClientId, long SampleCount, long BaseVersion, int Index = -1, string? Node = null, int Leaf = -1,
    double? Scale = null)
{
    /// <summary>
    /// Throws when a field is out of range. The contribution id must be the client's own update
    /// (<c>update/{client}/{task}</c>): the leaf that emits the round reads and then deletes exactly
    /// the keys registered here, so nothing else may ever be registered.
    /// </summary>
    /// <exception cref="ArgumentException">The message names the field and its allowed range.</exception>
    public Arrival Validate()
    {
        if (string.IsNullOrEmpty(ClientId)) throw new ArgumentException("Arrival.clientId is missing.", "clientId");
        if (StoreKeys.UpdateShapeProblem(ContributionId, "Arrival.contributionId") is { } shape) throw new ArgumentException(shape, "contributionId");
        if (!ContributionId.StartsWith($"{StoreKeys.UpdatePrefix}{ClientId}/", StringComparison.Ordinal))
            throw new ArgumentException($"Arrival.contributionId '{ContributionId}' is not an update of client '{ClientId}'.", "contributionId");
        if (SampleCount is < 1 or > MalformedEvent.MaxSampleCount)
            throw new ArgumentException($"Arrival.sampleCount is {SampleCount}; an update comes from 1 to {MalformedEvent.MaxSampleCount} samples.", "sampleCount");
        if (BaseVersion < 0) throw new ArgumentException($"Arrival.baseVersion is {BaseVersion}; versions start at 0.", "baseVersion");
        if (Node is not null && NodeTopics.NodeProblem(Node, "Arrival.node") is { } node) throw new ArgumentException(node, "node");
        if (MalformedEvent.ScaleProblem(Scale, "Arrival.scale") is { } scale) throw new ArgumentException(scale, "scale");
        return this;
    }
}
