using Offload.Aggregator.Rounds;

namespace Offload.Aggregator.Journal;

/// <summary>
/// What a serving process keeps on disk so that a crash loses nothing it acknowledged: each task
/// handed out, each accepted update with its payload, and each closed round's model and server
/// state. Every call returns only once its record is durable; a record is all there or not at all.
/// A restarted process reads it back with <see cref="Load"/> and resumes the federation where it stopped.
/// </summary>
/// <remarks>Implementations are thread-safe: the gateway records acceptances from concurrent calls.</remarks>
public interface IFederationJournal : IDisposable
{
    /// <summary>Everything recorded so far; empty for a new journal.</summary>
    /// <exception cref="InvalidDataException">The journal is damaged or belongs to another federation.</exception>
    FederationRecord Load();

    /// <summary>Records a task before its client hears of it.</summary>
    /// <exception cref="IOException">The record could not be made durable (for example, the disk is full).</exception>
    void RecordTask(RoundTask task);

    /// <summary>Records an accepted update and its payload before the gateway acknowledges it.</summary>
    /// <exception cref="IOException">The record could not be made durable.</exception>
    void RecordAccepted(AcceptedUpdate update, ReadOnlySpan<byte> payload);

    /// <summary>
    /// Records a closed round (its model, the strategy's state and its summary) and, in the same
    /// transaction, drops the payloads of that round's updates, which the model now holds.
    /// </summary>
    /// <exception cref="IOException">The record could not be made durable.</exception>
    void RecordRound(RecordedRound round);

    /// <summary>
    /// Records that the updates of <paramref name="round"/> received so far were discarded (their
    /// aggregate was not finite, so the round starts over): they stay acknowledged, their payloads go.
    /// </summary>
    /// <exception cref="IOException">The record could not be made durable.</exception>
    void RecordDiscarded(long round);
}
