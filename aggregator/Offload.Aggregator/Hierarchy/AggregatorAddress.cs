namespace Offload.Aggregator.Hierarchy;

/// <summary>Where an aggregator sits in a round's tree: level 0 holds the leaves, the last level the top.</summary>
/// <param name="Round">The round the tree serves.</param>
/// <param name="Level">0 for leaves, increasing towards the top.</param>
/// <param name="Index">Position within the level, from 0.</param>
public readonly record struct AggregatorAddress(long Round, int Level, int Index)
{
    /// <summary>A stable identity, used as the contribution id of the partial this aggregator emits.</summary>
    public override string ToString() => $"r{Round}/l{Level}/a{Index}";
}
