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
    /// through <paramref name="strategy"/>, and returns how many client updates it covered
    /// (0 leaves the model unchanged).
    /// </summary>
    /// <exception cref="InvalidOperationException">The round was already published.</exception>
    public int Publish(IAggregationStrategy strategy, Span<float> globalWeights)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        Core.Layout.EnsureMatches(globalWeights, nameof(globalWeights));
        using var total = Core.EmitIfOpen()
            ?? throw new InvalidOperationException($"Round of {Core.Address} was already published.");
        if (total.UpdateCount == 0) return 0;
        float[] mean = System.Buffers.ArrayPool<float>.Shared.Rent(Core.Layout.TotalLength);
        try
        {
            var span = mean.AsSpan(0, Core.Layout.TotalLength);
            AggregationKernels.WeightedMean(total.Sum, total.TotalWeight, span);
            strategy.Apply(span, globalWeights);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(mean);
        }
        return total.UpdateCount;
    }

    public void Dispose() => Core.Dispose();
}
