namespace Offload.Functions.Events;

/// <summary>
/// A round's actor made an aggregator due without a function holding its inputs (the deadline closed
/// the round while the leaf was still short of its fan-in): any functions instance claims it from the
/// actor (<c>Claim</c>) and emits it. The actor publishes these instead of folding inside its turn.
/// </summary>
/// <param name="Round">The 1-based round.</param>
/// <param name="Level">The aggregator's level (0: a leaf).</param>
/// <param name="Index">Its index within the level.</param>
/// <param name="Node">The node whose store holds the leaf's updates (its topic is that node's), or null when it holds none.</param>
public sealed record AggregatorDue(long Round, int Level, int Index, string? Node = null);
