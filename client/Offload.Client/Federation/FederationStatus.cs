namespace Offload.Client.Federation;

/// <summary>Where the federation stands, as the gateway reports it.</summary>
/// <param name="Done">Whether every round has closed.</param>
/// <param name="Round">The current round.</param>
/// <param name="ModelVersion">The current global model version.</param>
/// <param name="TotalRounds">Rounds to run.</param>
/// <param name="RoundUpdates">Updates folded into the current round.</param>
/// <param name="MinClients">Updates that close a round.</param>
/// <param name="UpdatesAccepted">Updates the gateway has accepted.</param>
public sealed record FederationStatus(bool Done, long Round, long ModelVersion, long TotalRounds, int RoundUpdates, int MinClients, long UpdatesAccepted);
