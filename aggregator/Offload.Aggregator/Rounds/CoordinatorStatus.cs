using Offload.Core.Model;

namespace Offload.Aggregator.Rounds;

/// <summary>A snapshot of where the rounds stand.</summary>
/// <param name="Done">Whether every round has closed.</param>
/// <param name="Round">The current 1-based round (the last one when done).</param>
/// <param name="Version">The current global model version.</param>
/// <param name="TotalRounds">Rounds to run in all.</param>
/// <param name="RoundUpdates">Updates folded into the current round.</param>
/// <param name="MinClients">Updates that close a round.</param>
/// <param name="UpdatesFolded">Updates folded since the start.</param>
public sealed record CoordinatorStatus(bool Done, long Round, ModelVersion Version, int TotalRounds, int RoundUpdates, int MinClients, long UpdatesFolded);
