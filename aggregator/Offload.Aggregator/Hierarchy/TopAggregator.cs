using Offload.Aggregator.Kernels;
using Offload.Aggregator.Strategies;
using Offload.Core.Model;

namespace Offload.Aggregator.Hierarchy;

/// <summary>The root: folds partials and turns their weighted mean into the next global model.</summary>
public sealed class TopAggregator : IDisposable
{
    /// <summary>Creates the top expecting <paramref name="fanIn"/> partials.</summary>
    public TopAggregator(TensorLayout layout, AggregatorAddress address, int fanIn) =>
        Core = new AggregatorCore(layout, address, fanIn);

    /// <summary>The shared engine (inputs, completion, emission).</summary>
    public AggregatorCore Core { get; }

    /// <inheritdoc cref="AggregatorCore.FoldPartial"/>
    public FoldOutcome Fold(PartialAggregate partial) => Core.FoldPartial(partial);

    /// <summary>
    /// Closes the round: applies the weighted mean of everything folded to <paramref name="globalWeights"/>
    /// through <paramref name="strategy"/>'s server step, advancing <paramref name="state"/>, and
    /// reports what it did (no update leaves the model and the state unchanged).
    /// </summary>
    /// <exception cref="InvalidOperationException">The round was already published.</exception>
    public AggregationMetrics Publish(AggregationStrategy strategy, Span<float> globalWeights, ServerState state)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        ArgumentNullException.ThrowIfNull(state);
        Core.Layout.EnsureMatches(globalWeights, nameof(globalWeights));
        using var total = Core.EmitIfOpen()
            ?? throw new InvalidOperationException($"Round of {Core.Address} was already published.");
        if (total.UpdateCount == 0) return default;
        float[] mean = System.Buffers.ArrayPool<float>.Shared.Rent(Core.Layout.TotalLength);
        try
        {
            var span = mean.AsSpan(0, Core.Layout.TotalLength);
            AggregationKernels.WeightedMean(total.Sum, total.TotalWeight, span);
            return strategy.Aggregate(span, total.UpdateCount, globalWeights, state);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(mean);
        }
    }

    public void Dispose() => Core.Dispose();
}
