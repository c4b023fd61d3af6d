using Offload.Aggregator.Rounds;

namespace Offload.Aggregator.Journal;

/// <summary>
/// What a journal held when it was opened: the closed rounds in order, the tasks of the last two
/// rounds, every acknowledged update (the ledger retries are answered from), and the payloads of
/// those not yet in a published model, by task id.
/// </summary>
public sealed record FederationRecord(
    IReadOnlyList<RecordedRound> Rounds,
    IReadOnlyList<RoundTask> Tasks,
    IReadOnlyList<AcceptedUpdate> Accepted,
    IReadOnlyDictionary<string, byte[]> PendingPayloads)
{
    /// <summary>A journal with nothing in it.</summary>
    public static FederationRecord Empty { get; } = new([], [], [], new Dictionary<string, byte[]>());

    /// <summary>Whether nothing was recorded: the federation starts at round 1.</summary>
    public bool IsEmpty => Rounds.Count == 0 && Tasks.Count == 0 && Accepted.Count == 0;

    /// <summary>The last closed round, or 0.</summary>
    public long LastRound => Rounds.Count == 0 ? 0 : Rounds[^1].Summary.Round;
}
