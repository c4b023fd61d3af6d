using Offload.Core.Model;

namespace Offload.Aggregator.Hierarchy;

/// <summary>An inner node: folds its children's partials as they arrive, emits one partial upwards.</summary>
public sealed class MiddleAggregator : IDisposable
{
    /// <summary>Creates a middle aggregator expecting <paramref name="fanIn"/> partials.</summary>
    public MiddleAggregator(TensorLayout layout, AggregatorAddress address, int fanIn) =>
        Core = new AggregatorCore(layout, address, fanIn);

    /// <summary>The shared engine (inputs, completion, emission).</summary>
    public AggregatorCore Core { get; }

    /// <inheritdoc cref="AggregatorCore.FoldPartial"/>
    public FoldOutcome Fold(PartialAggregate partial) => Core.FoldPartial(partial);

    /// <inheritdoc cref="AggregatorCore.Emit"/>
    public PartialAggregate Emit() => Core.Emit();

    public void Dispose() => Core.Dispose();
}
