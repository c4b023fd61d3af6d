namespace Offload.Aggregator.Strategies;

/// <summary>How a strategy combines the updates of a round, which decides where in the tree it can run.</summary>
public enum AggregationKind
{
    /// <summary>
    /// A weighted sum: every update is folded into its leaf the moment it arrives, partial sums
    /// compose by addition up the leaf/middle/top tree, and the result equals a flat sum whatever the
    /// tree (FedAvg and the server optimisers, with or without norm clipping).
    /// </summary>
    SumDecomposable,

    /// <summary>
    /// Needs a group's individual updates at once (median, trimmed mean, Krum). Under the hierarchy
    /// each leaf keeps its inputs and combines them robustly; the leaves' results are then averaged up
    /// the tree by update count, so memory at a leaf is its fan-in in model copies.
    /// </summary>
    Robust,
}
