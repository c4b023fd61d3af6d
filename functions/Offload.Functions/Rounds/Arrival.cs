namespace Offload.Functions.Rounds;

/// <summary>One update registered with its round; its position decides its leaf.</summary>
/// <param name="ContributionId">Idempotency key: the update's store reference (one per client and task).</param>
/// <param name="ClientId">The client that sent it.</param>
/// <param name="SampleCount">Samples it was trained on.</param>
/// <param name="BaseVersion">The model version it was trained from.</param>
/// <param name="Index">Arrival order within the round, from 0 (set by the actor).</param>
public sealed record Arrival(string ContributionId, string ClientId, long SampleCount, long BaseVersion, int Index = -1);
