using Offload.Aggregator.Strategies;
using Offload.Core.Model;

namespace Offload.Aggregator.Hierarchy;

/// <summary>The bottom of the tree: folds client updates, emits a partial to its parent.</summary>
public sealed class LeafAggregator : IDisposable
{
    /// <summary>Creates a leaf expecting <paramref name="fanIn"/> client updates, folded as <paramref name="strategy"/> asks (null: plain weighted sum).</summary>
    public LeafAggregator(TensorLayout layout, AggregatorAddress address, int fanIn, AggregationStrategy? strategy = null) =>
        Core = new AggregatorCore(layout, address, fanIn, strategy);

    /// <summary>The shared engine (inputs, completion, emission).</summary>
    public AggregatorCore Core { get; }

    /// <inheritdoc cref="AggregatorCore.FoldUpdate"/>
    public FoldOutcome Fold(string contributionId, ReadOnlySpan<float> update, double weight) =>
        Core.FoldUpdate(contributionId, update, weight);

    /// <inheritdoc cref="AggregatorCore.Emit"/>
    public PartialAggregate Emit() => Core.Emit();

    public void Dispose() => Core.Dispose();
}
