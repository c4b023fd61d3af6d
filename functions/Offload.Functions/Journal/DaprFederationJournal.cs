using System.Text.Json;
using Dapr.Client;
using Offload.Aggregator.Rounds;
using Offload.Functions.Names;

namespace Offload.Functions.Journal;

/// <summary>
/// The gateway's journal in the Dapr deployment, in the state store: its task book and its ledger of
/// acknowledged updates, one document per round (<c>journal/round/{r}</c>) and a pointer to the newest
/// (<c>journal/head</c>), so that a restarted gateway, on any node, still knows the tasks it handed out
/// and answers retries of acknowledged uploads as duplicates. Payloads, models and server state are
/// not here: the gateway stores payloads before it records them, and the functions store the rest.
/// </summary>
/// <remarks>
/// Group commit: records change the documents in memory, and a flush saves every document changed
/// since the last save; concurrent acknowledgements wait for one save. The gateway is the only
/// writer (one replica per federation), so a document is rewritten whole, without ETags. A failed
/// save is transient here (the sidecar is unreachable): the acknowledgement it was for is refused and
/// taken back out of the document, and the next flush saves the rest again; <see cref="Broken"/> never faults.
/// A document grows with the round's tasks (about 300 bytes each) and is rewritten at each flush;
/// with thousands of devices per round, per-task keys would be cheaper.
/// </remarks>
public sealed class DaprFederationJournal(DaprClient client, string storeName = DaprNames.StateStore) : IFederationJournal
{
    /// <summary>The key of the pointer to the newest round's document.</summary>
    public const string HeadKey = "journal/head";

    private static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;
    private readonly object _lock = new();
    private readonly SortedDictionary<long, RoundDocument> _rounds = [];
    private readonly HashSet<long> _dirty = [];
    private readonly List<long> _forget = [];
    private readonly SemaphoreSlim _saving = new(1, 1);
    private long _changes;
    private long _saved;
    private long _head;

    /// <summary>The key of round <paramref name="round"/>'s document.</summary>
    public static string RoundKey(long round) => $"journal/round/{round}";

    /// <inheritdoc/>
    public Task Broken { get; } = new TaskCompletionSource().Task;

    /// <inheritdoc/>
    public async ValueTask<FederationRecord> LoadAsync(CancellationToken cancellationToken = default)
    {
        var head = await ReadAsync<HeadDocument>(HeadKey, cancellationToken).ConfigureAwait(false);
        if (head is null) return FederationRecord.Empty;
        if (head.Round < 1) throw new InvalidDataException($"The journal's head in '{storeName}' names round {head.Round}.");
        var tasks = new List<RoundTask>();
        var accepted = new List<AcceptedUpdate>();
        for (long round = Math.Max(1, head.Round - 1); round <= head.Round; round++)
        {
            var document = await ReadAsync<RoundDocument>(RoundKey(round), cancellationToken).ConfigureAwait(false) ?? new RoundDocument();
            foreach (var task in document.Tasks)
                if (task.Round != round) throw new InvalidDataException($"The journal of round {round} holds task '{task.TaskId}' of round {task.Round}.");
            foreach (var update in document.Accepted)
                if (update.Arrived.Round != round) throw new InvalidDataException($"The journal of round {round} holds an update of round {update.Arrived.Round}.");
            try
            {
                tasks.AddRange(document.Tasks.Select(t => t.ToTask()));
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"The journal of round {round} in '{storeName}' holds a task that is not valid: {e.Message}", e);
            }
            accepted.AddRange(document.Accepted);
            lock (_lock) _rounds[round] = document;
        }
        lock (_lock) _head = head.Round;
        return new FederationRecord([], tasks, accepted, new Dictionary<string, byte[]>());
    }

    /// <inheritdoc/>
    public void RecordTask(RoundTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        lock (_lock)
        {
            Document(task.Round).Tasks.Add(JournaledTask.Of(task));
            _dirty.Add(task.Round);
            _changes++;
        }
    }

    /// <inheritdoc/>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => new(SaveAsync(cancellationToken));

    /// <inheritdoc/>
    /// <remarks>The payload is not copied: the state store holds it under the update's reference already.</remarks>
    public async ValueTask RecordAcceptedAsync(AcceptedUpdate update, ReadOnlyMemory<byte> payload, PayloadDraft? draft = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        long round = update.Arrived.Round;
        lock (_lock)
        {
            var document = Document(round);
            document.Accepted.RemoveAll(a => a.Arrived.TaskId == update.Arrived.TaskId);
            document.Accepted.Add(update);
            _dirty.Add(round);
            _changes++;
        }
        try
        {
            await SaveAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Refused to the device: it must not read as acknowledged after a restart.
            lock (_lock)
            {
                Document(round).Accepted.Remove(update);
                _dirty.Add(round);
                _changes++;
            }
            throw;
        }
    }

    /// <summary>A closed round: the documents of rounds before it are forgotten (its own stays one round, for late uploads).</summary>
    public Task RecordRound(RecordedRound round)
    {
        ArgumentNullException.ThrowIfNull(round);
        lock (_lock)
        {
            foreach (long old in _rounds.Keys.Where(r => r < round.Summary.Round).ToArray())
            {
                _rounds.Remove(old);
                _dirty.Remove(old);
                _forget.Add(old);
            }
            _changes++;
        }
        return SaveAsync(CancellationToken.None);
    }

    /// <summary>Nothing to drop here: the discarded payloads belong to the functions.</summary>
    public Task RecordDiscarded(long round) => Task.CompletedTask;

    /// <summary>Nothing to release: the client belongs to the caller.</summary>
    public void Dispose() => _saving.Dispose();

    private RoundDocument Document(long round)
    {
        if (!_rounds.TryGetValue(round, out var document)) _rounds[round] = document = new RoundDocument();
        return document;
    }

    /// <summary>Saves every document changed before this call (group commit: a save already under way may cover it).</summary>
    /// <exception cref="IOException">The state store could not be reached or refused the save.</exception>
    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        long wanted;
        lock (_lock) wanted = _changes;
        await _saving.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_saved >= wanted) return;
            long changes, head;
            List<(string Key, byte[] Bytes)> writes = [];
            long[] forget;
            lock (_lock)
            {
                changes = _changes;
                head = Math.Max(_head, _rounds.Count == 0 ? 0 : _rounds.Keys.Max());
                foreach (long round in _dirty) writes.Add((RoundKey(round), JsonSerializer.SerializeToUtf8Bytes(_rounds[round], Json)));
                _dirty.Clear();
                forget = [.. _forget];
                _forget.Clear();
            }
            try
            {
                // The head first: a document it does not name yet would be missed by a restart.
                if (head > _head) await client.SaveByteStateAsync(storeName, HeadKey, JsonSerializer.SerializeToUtf8Bytes(new HeadDocument { Round = head }, Json), cancellationToken: cancellationToken).ConfigureAwait(false);
                foreach (var (key, bytes) in writes)
                    await client.SaveByteStateAsync(storeName, key, bytes, cancellationToken: cancellationToken).ConfigureAwait(false);
                foreach (long round in forget)
                    await client.DeleteStateAsync(storeName, RoundKey(round), cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                lock (_lock)
                {
                    foreach (var (key, _) in writes) _dirty.Add(long.Parse(key[(key.LastIndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
                    _forget.AddRange(forget);
                }
                throw new IOException($"The journal in state store '{storeName}' could not be saved: {e.Message}", e);
            }
            lock (_lock) _head = Math.Max(_head, head);
            _saved = changes;
        }
        finally
        {
            _saving.Release();
        }
    }

    private async Task<T?> ReadAsync<T>(string key, CancellationToken cancellationToken) where T : class
    {
        var bytes = await client.GetByteStateAsync(storeName, key, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (bytes.IsEmpty) return null;
        try
        {
            return JsonSerializer.Deserialize<T>(bytes.Span, Json) ?? throw new InvalidDataException($"'{key}' in state store '{storeName}' is empty JSON.");
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new InvalidDataException($"'{key}' in state store '{storeName}' is not a journal document: {e.Message}", e);
        }
    }

    /// <summary>The pointer to the newest round's document.</summary>
    private sealed class HeadDocument
    {
        public long Round { get; set; }
    }
}
