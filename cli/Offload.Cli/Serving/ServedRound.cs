using Offload.Aggregator.Rounds;

namespace Offload.Cli.Serving;

/// <summary>One row of serve's <c>rounds.csv</c>: the coordinator's summary plus the new model's test score.</summary>
/// <param name="Summary">What the coordinator reported for the round.</param>
/// <param name="Accuracy">Test accuracy of the model the round produced.</param>
/// <param name="Loss">Mean test cross-entropy of that model.</param>
/// <param name="ElapsedSeconds">Seconds from the gateway's start to the model's publication (wall time, for accuracy against time); NaN for a round closed before a restart.</param>
public sealed record ServedRound(RoundSummary Summary, double Accuracy, double Loss, double ElapsedSeconds = double.NaN);
