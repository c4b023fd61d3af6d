namespace Offload.Aggregator.Strategies;

/// <summary>
/// How updates combine into the next global model. Kept as small as Flower's strategy contract:
/// a weight per update and a server step from the weighted mean. The aggregator, not the strategy,
/// owns the flow of a round (who is selected, when a round closes), and the math lives in
/// <see cref="Kernels.AggregationKernels"/>. Asynchronous strategies (FedBuff, FedAsync) weigh by
/// staleness through the same two members.
/// </summary>
public interface IAggregationStrategy
{
    /// <summary>A short name for logs and summaries, e.g. <c>fedavg</c>.</summary>
    string Name { get; }

    /// <summary>The weight of one update in the weighted mean; positive and finite.</summary>
    double WeightOf(UpdateReceipt receipt);

    /// <summary>Applies the weighted mean of the round's updates to the global weights, in place.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    void Apply(ReadOnlySpan<float> meanUpdate, Span<float> globalWeights);
}
