using Offload.Aggregator.Strategies;
using Offload.Core.Model;

namespace Offload.Aggregator.Rounds;

/// <summary>What one closed round did.</summary>
/// <param name="Round">The 1-based round.</param>
/// <param name="Version">The global model version it produced.</param>
/// <param name="Updates">Updates folded.</param>
/// <param name="Rejected">Updates that failed decoding or validation at folding and were left out.</param>
/// <param name="SampleCount">Samples behind the folded updates.</param>
/// <param name="PayloadBytes">Payload bytes folded.</param>
/// <param name="Seconds">From the round's opening to its close.</param>
/// <param name="AggregateSeconds">Time spent reading, decoding and folding payloads and applying the step.</param>
/// <param name="ClosedByDeadline">Whether the deadline, not the quorum, closed it.</param>
/// <param name="Step">What the strategy's server step did (norms of the aggregated update and of the change); zero where the step ran elsewhere and did not say.</param>
/// <param name="Evaluation">The round's federated evaluation (clients' scores of the model they trained from), or null when none reported.</param>
public sealed record RoundSummary(long Round, ModelVersion Version, int Updates, int Rejected, long SampleCount, long PayloadBytes,
    double Seconds, double AggregateSeconds, bool ClosedByDeadline, AggregationMetrics Step = default, FederatedEvaluation? Evaluation = null);
