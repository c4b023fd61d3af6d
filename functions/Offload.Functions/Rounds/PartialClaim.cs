using Offload.Functions.Events;
using Offload.Functions.Names;
using Offload.Functions.Storage;

namespace Offload.Functions.Rounds;

/// <summary>A child's partial registered with its round (the claim check of a <c>PartialReady</c>).</summary>
/// <param name="Level">The child's level.</param>
/// <param name="Index">The child's index within its level.</param>
/// <param name="Reference">Store key of the partial sum.</param>
/// <param name="UpdateCount">Client updates it covers.</param>
/// <param name="TotalWeight">Their total weight.</param>
/// <param name="Node">The node whose store holds the partial (null: a store every node reads).</param>
public sealed record PartialClaim(int Level, int Index, string Reference, int UpdateCount, double TotalWeight, string? Node = null)
{
    /// <summary>The contribution id a parent folds this partial under.</summary>
    public string ContributionId => $"l{Level}/a{Index}";

    /// <summary>
    /// Throws when a field is out of range for <paramref name="round"/>. The reference must be an
    /// attempt's partial of exactly this child (<see cref="StoreKeys.Partial"/>): its parent reads and
    /// then deletes it.
    /// </summary>
    /// <exception cref="ArgumentException">The message names the field and its allowed range.</exception>
    public PartialClaim Validate(long round)
    {
        if (Level is < 0 or > MalformedEvent.MaxLevel) throw new ArgumentException($"PartialClaim.level is {Level}; levels run from 0 to {MalformedEvent.MaxLevel}.", "level");
        if (Index < 0) throw new ArgumentException($"PartialClaim.index is {Index}; indexes start at 0.", "index");
        if (StoreKeys.PartialProblem(Reference, round, Level, Index, "PartialClaim.reference") is { } reference) throw new ArgumentException(reference, "reference");
        if (UpdateCount < 0) throw new ArgumentException($"PartialClaim.updateCount is {UpdateCount}; it must not be negative.", "updateCount");
        if (!double.IsFinite(TotalWeight) || TotalWeight < 0)
            throw new ArgumentException($"PartialClaim.totalWeight is {TotalWeight}; it must be finite and not negative.", "totalWeight");
        if (Node is not null && NodeTopics.NodeProblem(Node, "PartialClaim.node") is { } node) throw new ArgumentException(node, "node");
        return this;
    }
}
