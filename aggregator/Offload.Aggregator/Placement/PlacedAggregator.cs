namespace Offload.Aggregator.Placement;

/// <summary>One aggregator of the round's tree and the node it runs on.</summary>
/// <param name="Id">Its index in <see cref="AggregatorPlacement.Aggregators"/>.</param>
/// <param name="Level">0 for a leaf; the top is the highest level.</param>
/// <param name="Node">The index of its node in <see cref="AggregatorPlacement.Nodes"/>.</param>
/// <param name="Parent">The <see cref="Id"/> of its parent, or -1 for the top.</param>
/// <param name="Inputs">The updates (leaf) or partials it folds.</param>
public sealed record PlacedAggregator(int Id, int Level, int Node, int Parent, int Inputs);
