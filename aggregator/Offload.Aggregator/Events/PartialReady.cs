using Offload.Aggregator.Storage;

namespace Offload.Aggregator.Events;

/// <summary>
/// An aggregator of a round's tree emitted its partial sum and stored it: the claim check its parent
/// folds from. The sum stays in the <see cref="IUpdateStore"/> under <see cref="Reference"/>.
/// </summary>
/// <param name="Reference">Where the encoded partial sum is stored.</param>
/// <param name="Round">The 1-based round of the tree.</param>
/// <param name="Level">The emitting aggregator's level (0: a leaf).</param>
/// <param name="Index">The emitting aggregator's index within its level.</param>
/// <param name="UpdateCount">Client updates the partial covers (0 when its deadline came first).</param>
/// <param name="TotalWeight">Sum of the covered updates' weights.</param>
/// <param name="Node">The node whose store holds the sum, when it is a node's own store (null: a store every node reads).</param>
public sealed record PartialReady(
    UpdateReference Reference,
    long Round,
    int Level,
    int Index,
    int UpdateCount,
    double TotalWeight,
    string? Node = null);
