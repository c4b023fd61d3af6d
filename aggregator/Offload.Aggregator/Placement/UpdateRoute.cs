namespace Offload.Aggregator.Placement;

/// <summary>Where updates that land on a node are folded: <paramref name="Count"/> of them go to leaf <paramref name="Leaf"/>.</summary>
/// <param name="SourceNode">The index of the node the updates land on.</param>
/// <param name="Leaf">The <see cref="PlacedAggregator.Id"/> of the leaf that folds them.</param>
/// <param name="Count">How many.</param>
public sealed record UpdateRoute(int SourceNode, int Leaf, int Count);
