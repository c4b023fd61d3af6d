namespace Offload.Functions.Rounds;

/// <summary>One aggregator of a round's tree, named in an actor call.</summary>
/// <param name="Level">Its level (0: a leaf).</param>
/// <param name="Index">Its index within the level.</param>
public sealed record AggregatorSlot(int Level, int Index);
