namespace Offload.Functions.Events;

/// <summary>
/// A round was opened on its actor: published by the actor so that the scaler, which counts the
/// events waiting on the functions' streams, starts function instances while devices train, not
/// when the first update arrives (pre-warming; the instance's cold start is then hidden behind the
/// training time). The functions acknowledge it and do nothing else with it.
/// </summary>
/// <param name="Round">The 1-based round.</param>
/// <param name="ExpectedUpdates">The updates the round waits for.</param>
public sealed record RoundOpened(long Round, int ExpectedUpdates);
