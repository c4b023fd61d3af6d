using Offload.Aggregator.Rounds;

namespace Offload.Aggregator.Journal;

/// <summary>A closed round as journaled: its summary, the model it published, and the strategy's server state after it (<see cref="Strategies.ServerState.Encode"/>; empty where the state lives elsewhere).</summary>
public sealed record RecordedRound(RoundSummary Summary, ReadOnlyMemory<float> Weights, ReadOnlyMemory<byte> ServerState);
