
namespace Offload.Aggregator.Rounds;

/// <summary>
/// What a serving process keeps on disk so that a crash loses nothing it acknowledged: each task
/// handed out, each accepted update with its payload, and each closed round's model and server
/// state. A record is all there or not at all, and durable when its call (or, for a task, the
/// <see cref="FlushAsync"/> after it) completes. A restarted process reads it back with
/// <see cref="LoadAsync"/> and resumes the federation where it stopped.
/// </summary>
/// <remarks>
/// Implementations are thread-safe, and may commit records that arrive together in one transaction
/// (group commit): the gateway records acceptances from concurrent calls. What is durable is always a
/// prefix of what was queued: after a record fails, every later one fails too, so nothing is
/// acknowledged past a gap (a restart resumes from the prefix, and folds the rest again).
/// </remarks>
public interface IFederationJournal : IDisposable
{
    /// <summary>
    /// Never completes while the journal keeps records; faults with the <see cref="IOException"/> of the
    /// first record it could not keep (a full disk, say), after which it refuses every record: the
    /// host stops, and a restart resumes from what was kept.
    /// </summary>
    Task Broken { get; }

    /// <summary>Everything recorded so far; empty for a new journal.</summary>
    /// <exception cref="InvalidDataException">The journal is damaged or belongs to another federation.</exception>
    ValueTask<FederationRecord> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues the record of a task without waiting (the coordinator calls it under its lock); the
    /// gateway awaits <see cref="ReadyToOfferAsync"/> before the client hears of the task.
    /// </summary>
    void RecordTask(RoundTask task);

    /// <summary>
    /// Completes once a task queued before it may be offered to its client. By default it waits for
    /// everything queued (<see cref="FlushAsync"/>), so the task survives a restart too; a journal whose
    /// records are durable in queue order may answer at once, since every acceptance of the task, and so
    /// everything acknowledged that depends on it or on its model, is queued after them.
    /// </summary>
    /// <exception cref="IOException">A record it waits for could not be made durable.</exception>
    ValueTask ReadyToOfferAsync(CancellationToken cancellationToken = default) => FlushAsync(cancellationToken);

    /// <summary>Completes once everything queued before it is durable.</summary>
    /// <exception cref="IOException">A queued record could not be made durable (for example, the disk is full).</exception>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Records an accepted update and its payload; the gateway acknowledges it only once this completes.
    /// The journal may read <paramref name="payload"/> until then, so the caller keeps it unchanged.
    /// </summary>
    /// <param name="update">The acceptance.</param>
    /// <param name="payload">The payload as validated (and clipped) by the gateway.</param>
    /// <param name="draft">The draft the same bytes were streamed into (<see cref="BeginPayload"/>), if any: the journal keeps it instead of writing <paramref name="payload"/> again.</param>
    /// <param name="cancellationToken">Stops the wait, not the record.</param>
    /// <exception cref="IOException">The record could not be made durable.</exception>
    ValueTask RecordAcceptedAsync(AcceptedUpdate update, ReadOnlyMemory<byte> payload, PayloadDraft? draft = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets room aside for a payload of <paramref name="length"/> bytes of round <paramref name="round"/>
    /// that the gateway writes as it streams in; null where the journal keeps no payloads of its own (the
    /// Dapr state store holds them) or has no room. An abandoned draft costs its room until its round closes.
    /// </summary>
    PayloadDraft? BeginPayload(long round, long length) => null;

    /// <summary>
    /// Queues the record of a closed round (its model, the strategy's state and its summary) and, in the
    /// same transaction, the dropping of that round's payloads, which the model now holds. The
    /// coordinator does not wait: records are durable in the order they were queued, and a task or an
    /// acceptance queued after it is durable only once it is. The returned task faults if it could not be kept.
    /// </summary>
    Task RecordRound(RecordedRound round);

    /// <summary>
    /// Queues the record that the updates of <paramref name="round"/> received so far were discarded
    /// (their aggregate was not finite, so the round starts over): they stay acknowledged, their
    /// payloads go. Like <see cref="RecordRound"/>, not waited on; the task faults if it could not be kept.
    /// </summary>
    Task RecordDiscarded(long round);
}
