namespace Offload.Aggregator.Strategies;

/// <summary>What one server step did, for the round's summary.</summary>
/// <param name="Updates">Client updates behind the aggregated result.</param>
/// <param name="UpdateNorm">L2 norm of the aggregated (mean or robustly combined) update.</param>
/// <param name="StepNorm">L2 norm of the change the step made to the global model.</param>
public readonly record struct AggregationMetrics(int Updates, double UpdateNorm, double StepNorm);
