using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Checksums;
using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Aggregator.Journal;

/// <summary>
/// The journal in one SQLite database (<c>federation.db</c> in the state directory), in WAL mode with
/// synchronous commits: records are committed in groups, each fsynced before a call that waits for it
/// returns (tasks and round records wait for the next group rather than start one). Accepted
/// payloads go to a <see cref="PayloadLog"/> beside it (<c>payloads/</c>), fsynced while the rows that
/// name them commit; an acceptance is acknowledged once both are durable.
/// </summary>
/// <remarks>
/// Why SQLite rather than a log of our own: its transactions are atomic across the tables a record
/// touches (a closed round's model goes in and its payloads go out together), a torn write in the WAL
/// fails its frame checksum and the transaction is rolled back on the next open, and recovery is
/// SQLite's, tested far beyond what a project log would be. A full disk fails the transaction
/// (SQLITE_FULL) with nothing half-written; it surfaces as an <see cref="IOException"/>, so the gateway
/// refuses the update it could not record (UNAVAILABLE, the device retries) and the coordinator stops
/// rather than publish a round it could not keep. Payloads and models also carry a CRC-32C, checked on
/// <see cref="LoadAsync"/>, since SQLite does not checksum its pages and the payload files are ours.
/// Payloads are not blobs because WAL mode writes a blob twice (WAL, then checkpoint) and again when
/// it is freed, which measured as most of durability's cost (docs/benchmarks.md, "Durable serving").
/// One connection and one writer thread: commits are fsync-bound and SQLite has one writer anyway, so
/// records that arrive together are committed together (group commit). The WAL is checkpointed from a
/// second connection every half second (PASSIVE), never by a committing write, which measured as the
/// largest stall of an acknowledgement (docs/benchmarks.md, "Durable serving").
/// </remarks>
public sealed class SqliteFederationJournal : IFederationJournal
{
    /// <summary>The database's file name inside the state directory.</summary>
    public const string FileName = "federation.db";

    /// <summary>The payload log's folder inside the state directory.</summary>
    public const string PayloadFolder = "payloads";

    // 2: payloads in the payload log, not in the database. 3: acceptances name their commit group.
    private const int Format = 3;

    // Rows only, now that payloads are files: a commit rewrites whole pages, and 64 KiB pages (right
    // for blobs) made each small commit write hundreds of KiB (docs/benchmarks.md, "Durable serving").
    private const int PageSize = 4096;
    private readonly SqliteConnection _connection;
    private readonly PayloadLog _payloads;
    private readonly Dictionary<string, SqliteCommand> _statements = new(StringComparer.Ordinal);
    private readonly long? _maxBytes;
    private readonly object _lock = new();
    private readonly List<PendingWrite> _queue = [];
    private readonly Thread _writer;
    private bool _closing;
    private volatile Exception? _failure;
    private readonly TaskCompletionSource _broken = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _disposed;
    private static readonly TimeSpan CheckpointInterval = TimeSpan.FromMilliseconds(500);
    private readonly SqliteConnection _checkpoints;
    private readonly Timer _checkpointTimer;
    private readonly object _checkpointLock = new();
    // The group being committed (or the last one committed), also kept in the database: a group's
    // payloads are fsynced while its rows commit, so only the last group's can be missing after a crash.
    private long _group;
    private readonly Thread _syncer;
    private readonly SemaphoreSlim _syncRequested = new(0);
    private readonly SemaphoreSlim _syncDone = new(0);
    private Exception? _syncFailure;
    private volatile bool _syncerStopping;
    // Records in the queue that someone waits for, under _queue.
    private int _waiting;
    // How long a lazy record waits for company: what a crash can lose of the task book.
    private static readonly TimeSpan LazyDelay = TimeSpan.FromMilliseconds(250);

    private SqliteFederationJournal(SqliteConnection connection, string path, PayloadLog payloads, long? maxBytes, long group)
    {
        _connection = connection;
        _payloads = payloads;
        _maxBytes = maxBytes;
        _group = group;
        Path = path;
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "journal writer" };
        _writer.Start();
        _syncer = new Thread(SyncLoop) { IsBackground = true, Name = "journal payload sync" };
        _syncer.Start();
        // Checkpoints run beside the writer on a connection of their own (WAL allows it), so no
        // acknowledgement waits while the WAL is copied into the database.
        _checkpoints = new SqliteConnection(connection.ConnectionString);
        _checkpoints.Open();
        _checkpointTimer = new Timer(_ => Checkpoint(), null, CheckpointInterval, CheckpointInterval);
    }

    /// <summary>Copies what the WAL holds into the database, without blocking the writer (PASSIVE); a failure is retried at the next tick.</summary>
    private void Checkpoint()
    {
        if (!Monitor.TryEnter(_checkpointLock)) return;
        try
        {
            if (_closing) return;
            using var command = _checkpoints.CreateCommand();
            command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
            command.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // A busy or full database: the WAL keeps the records, and the next tick tries again.
        }
        finally
        {
            Monitor.Exit(_checkpointLock);
        }
    }

    /// <inheritdoc/>
    public Task Broken => _broken.Task;

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens (or creates) the journal in <paramref name="directory"/> for the federation named by
    /// <paramref name="identity"/> (model layout, initial weights, strategy): a journal of another federation is refused.
    /// </summary>
    /// <exception cref="InvalidDataException">The journal belongs to another federation, is of an unknown format, or is damaged.</exception>
    /// <param name="directory">The state directory.</param>
    /// <param name="identity">The federation's <see cref="FederationIdentity"/>.</param>
    /// <param name="maxBytes">A quota for the database (null: as large as the disk allows); past it, records fail as on a full disk.</param>
    /// <exception cref="IOException">The directory or database cannot be created or opened.</exception>
    public static SqliteFederationJournal Open(string directory, string identity, long? maxBytes = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(identity);
        Directory.CreateDirectory(directory);
        string path = System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, FileName));
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadWriteCreate }.ToString());
        try
        {
            connection.Open();
            Execute(connection, null, $$"""
                PRAGMA page_size = {{PageSize}};
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = FULL;
                PRAGMA wal_autocheckpoint = 0;
                CREATE TABLE IF NOT EXISTS federation (id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER NOT NULL, identity TEXT NOT NULL, last_group INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS rounds (round INTEGER PRIMARY KEY, version INTEGER NOT NULL, updates INTEGER NOT NULL, rejected INTEGER NOT NULL,
                    samples INTEGER NOT NULL, payload_bytes INTEGER NOT NULL, seconds REAL NOT NULL, aggregate_seconds REAL NOT NULL, by_deadline INTEGER NOT NULL,
                    step_updates INTEGER NOT NULL, update_norm REAL NOT NULL, step_norm REAL NOT NULL,
                    eval_clients INTEGER, eval_examples INTEGER, eval_loss REAL, eval_accuracy REAL,
                    weights BLOB NOT NULL, weights_crc INTEGER NOT NULL, server_state BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS tasks (task_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, round INTEGER NOT NULL, base_version INTEGER NOT NULL,
                    deadline_ms INTEGER NOT NULL, epochs INTEGER NOT NULL, batch INTEGER NOT NULL, lr REAL NOT NULL, mu REAL NOT NULL, evaluate INTEGER NOT NULL, settings TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS accepted (task_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, round INTEGER NOT NULL, reference TEXT NOT NULL,
                    base_version INTEGER NOT NULL, sample_count INTEGER NOT NULL, payload_bytes INTEGER NOT NULL, node TEXT NOT NULL, idempotency_key TEXT NOT NULL,
                    eval_examples INTEGER, eval_loss REAL, eval_accuracy REAL, payload_offset INTEGER, payload_crc INTEGER NOT NULL, commit_group INTEGER NOT NULL);
                CREATE INDEX IF NOT EXISTS accepted_pending ON accepted (round) WHERE payload_offset IS NOT NULL;
                """);
            if (maxBytes is long quota)
            {
                ArgumentOutOfRangeException.ThrowIfLessThan(quota, 1L << 20, nameof(maxBytes));
                Execute(connection, null, $"PRAGMA max_page_count = {quota / PageSize}");
            }
            long group = 0;
            using (var read = Command(connection, null, "SELECT format, identity FROM federation WHERE id = 1"))
            using (var row = read.ExecuteReader())
            {
                if (row.Read())
                {
                    if (row.GetInt32(0) != Format)
                        throw new InvalidDataException($"The journal {path} is of format {row.GetInt32(0)}; this build reads format {Format}.");
                    if (row.GetString(1) != identity)
                        throw new InvalidDataException($"The journal {path} belongs to another federation ({row.GetString(1)}); this one is {identity}. Use another --state directory, or delete it to start over.");
                    row.Close();
                    using var last = Command(connection, null, "SELECT last_group FROM federation WHERE id = 1");
                    group = (long)last.ExecuteScalar()!;
                }
                else
                {
                    row.Close();
                    Execute(connection, null, "INSERT INTO federation (id, format, identity, last_group) VALUES (1, $format, $identity, 0)", ("$format", Format), ("$identity", identity));
                }
            }
            var payloads = PayloadLog.Open(System.IO.Path.Combine(directory, PayloadFolder));
            // Files of closed rounds a crash left before it could delete them.
            using (var last = Command(connection, null, "SELECT COALESCE(MAX(round), 0) FROM rounds"))
                payloads.DeleteThrough((long)last.ExecuteScalar()!);
            DropUnsynced(connection, payloads, group);
            return new SqliteFederationJournal(connection, path, payloads, maxBytes, group);
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw e.SqliteErrorCode is 11 or 26 // SQLITE_CORRUPT, SQLITE_NOTADB
                ? new InvalidDataException($"The journal {path} is damaged: {e.Message}", e)
                : new IOException($"The journal {path} cannot be opened: {e.Message}", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public ValueTask<FederationRecord> LoadAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Load());

    /// <summary>Everything recorded so far (what <see cref="LoadAsync"/> returns, read on the caller's thread).</summary>
    /// <exception cref="InvalidDataException">The journal is damaged or cannot be read back.</exception>
    public FederationRecord Load()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                var rounds = LoadRounds();
                long last = rounds.Count == 0 ? 0 : rounds[^1].Summary.Round;
                var tasks = LoadTasks(last);
                var (accepted, pending) = LoadAccepted(last);
                return new FederationRecord(rounds, tasks, accepted, pending);
            }
            catch (Exception e) when (e is SqliteException or InvalidCastException or FormatException or ArgumentException or JsonException)
            {
                throw new InvalidDataException($"The journal {Path} cannot be read back: {e.Message}", e);
            }
        }
    }

    /// <inheritdoc/>
    public void RecordTask(RoundTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        var plan = task.Plan;
        _ = Enqueue(new PendingWrite($"task {task.TaskId}", transaction => Write(transaction,
            "INSERT OR REPLACE INTO tasks VALUES ($task, $client, $round, $base, $deadline, $epochs, $batch, $lr, $mu, $evaluate, $settings)",
            ("$task", task.TaskId), ("$client", task.ClientId), ("$round", task.Round), ("$base", task.BaseVersion.Value),
            ("$deadline", task.Deadline.ToUnixTimeMilliseconds()), ("$epochs", plan.LocalEpochs), ("$batch", plan.BatchSize), ("$lr", plan.LearningRate),
            ("$mu", plan.ProximalMu), ("$evaluate", plan.Evaluate ? 1 : 0), ("$settings", JsonSerializer.Serialize(plan.Settings))))
        {
            Lazy = true,
        });
    }

    /// <inheritdoc/>
    /// <remarks>
    /// At once, unless the journal has failed. Neither the task nor the model it names needs to be
    /// durable yet: both are queued before any acceptance of the task, and records are durable in queue
    /// order, so nothing is acknowledged that depends on a record a crash could lose. A crash that loses
    /// them loses no acknowledged work: the restarted gateway folds the round again from its journaled
    /// updates, refuses the lost task as not held when its upload comes, and the device asks for another
    /// (the SDK does). Waiting here put a commit on every device's path at the start of each round.
    /// </remarks>
    public ValueTask ReadyToOfferAsync(CancellationToken cancellationToken = default) =>
        _failure is { } failure
            ? ValueTask.FromException(new IOException($"The journal {Path} keeps no records since one failed ({failure.Message}).", failure))
            : ValueTask.CompletedTask;

    /// <inheritdoc/>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        new(Enqueue(new PendingWrite("the records before a flush", _ => { })).WaitAsync(cancellationToken));

    /// <inheritdoc/>
    /// <remarks>
    /// The payload is in its round's file before this returns: streamed there already (a
    /// <paramref name="draft"/> of this journal that did not fail), or written now. The caller's buffer
    /// is free then. The row that names it is committed by the writer after an fsync that covers it.
    /// </remarks>
    public ValueTask RecordAcceptedAsync(AcceptedUpdate update, ReadOnlyMemory<byte> payload, PayloadDraft? draft = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        var a = update.Arrived;
        var e = update.Evaluation;
        if (payload.Length != a.PayloadBytes)
            throw new ArgumentException($"The payload has {payload.Length} bytes; update {a.Reference} declares {a.PayloadBytes}.", nameof(payload));
        string what = $"update {a.Reference}";
        uint crc = Crc32C.HashToUInt32(payload.Span);
        long offset;
        try
        {
            offset = draft is LogDraft d && d.Log == _payloads && d.Round == a.Round && d.Length == payload.Length && !d.Failed && _payloads.Adopt(d)
                ? d.Offset
                : _payloads.Append(a.Round, payload.Span, RoomForPayloads());
        }
        catch (IOException failure)
        {
            // Failed in its place in the queue, so that nothing queued after it is kept either.
            return new(Enqueue(new PendingWrite(what, _ => throw failure)).WaitAsync(cancellationToken));
        }
        return new(Enqueue(new PendingWrite(what, transaction => Write(transaction,
            "INSERT OR REPLACE INTO accepted VALUES ($task, $client, $round, $reference, $base, $samples, $bytes, $node, $key, $ex, $loss, $acc, $offset, $crc, $group)",
            ("$task", a.TaskId), ("$client", a.ClientId), ("$round", a.Round), ("$reference", a.Reference.Key), ("$base", a.BaseVersion.Value),
            ("$samples", a.SampleCount), ("$bytes", a.PayloadBytes), ("$node", a.Node), ("$key", update.IdempotencyKey),
            ("$ex", e?.Examples), ("$loss", e?.Loss), ("$acc", e?.Accuracy), ("$offset", offset), ("$crc", (long)crc), ("$group", _group)))
        {
            NamesPayload = true,
        }).WaitAsync(cancellationToken));
    }

    /// <inheritdoc/>
    /// <remarks>Null when the quota leaves no room for it; the payload is then written, or refused, at acceptance.</remarks>
    public PayloadDraft? BeginPayload(long round, long length)
    {
        try
        {
            return _payloads.Reserve(round, length, RoomForPayloads());
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public Task RecordRound(RecordedRound round)
    {
        ArgumentNullException.ThrowIfNull(round);
        var s = round.Summary;
        byte[] weights = MemoryMarshal.AsBytes(round.Weights.Span).ToArray();
        return Enqueue(new PendingWrite($"round {s.Round}", transaction =>
        {
            Write(transaction,
                "INSERT INTO rounds VALUES ($round, $version, $updates, $rejected, $samples, $bytes, $seconds, $agg, $deadline, $stepUpdates, $updateNorm, $stepNorm, $ec, $ee, $el, $ea, $weights, $crc, $state)",
                ("$round", s.Round), ("$version", s.Version.Value), ("$updates", s.Updates), ("$rejected", s.Rejected), ("$samples", s.SampleCount),
                ("$bytes", s.PayloadBytes), ("$seconds", s.Seconds), ("$agg", s.AggregateSeconds), ("$deadline", s.ClosedByDeadline ? 1 : 0),
                ("$stepUpdates", s.Step.Updates), ("$updateNorm", s.Step.UpdateNorm), ("$stepNorm", s.Step.StepNorm),
                ("$ec", s.Evaluation?.Clients), ("$ee", s.Evaluation?.Examples), ("$el", s.Evaluation?.Loss), ("$ea", s.Evaluation?.Accuracy),
                ("$weights", weights), ("$crc", (long)Crc32C.HashToUInt32(weights)), ("$state", round.ServerState.ToArray()));
            // The model holds these updates now; their payloads would only be folded twice.
            Write(transaction, "UPDATE accepted SET payload_offset = NULL WHERE round <= $round AND payload_offset IS NOT NULL", ("$round", s.Round));
            // A closed round's tasks stay one round, so a late upload hears "round closed", not "not held".
            Write(transaction, "DELETE FROM tasks WHERE round < $round", ("$round", s.Round));
        })
        {
            // Only once no row names them (a crash before this leaves files the next open deletes).
            Committed = () => _payloads.DeleteThrough(s.Round),
            Lazy = true,
        });
    }

    /// <inheritdoc/>
    public Task RecordDiscarded(long round) =>
        // The round's file stays: the round starts over under the same number and appends to it; its close deletes it.
        Enqueue(new PendingWrite($"the discarded updates of round {round}", transaction => Write(transaction,
            "UPDATE accepted SET payload_offset = NULL WHERE round = $round AND payload_offset IS NOT NULL", ("$round", round))));

    /// <summary>Writes what is queued, then closes the database (a checkpoint of the WAL happens on close).</summary>
    public void Dispose()
    {
        lock (_queue)
        {
            if (_closing) return;
            _closing = true;
            Monitor.Pulse(_queue);
        }
        _writer.Join();
        _syncerStopping = true;
        _syncRequested.Release();
        _syncer.Join();
        _syncRequested.Dispose();
        _syncDone.Dispose();
        _checkpointTimer.Dispose();
        lock (_checkpointLock) _checkpoints.Dispose();
        lock (_lock)
        {
            _disposed = true;
            foreach (var command in _statements.Values) command.Dispose();
            _connection.Dispose();
            _payloads.Dispose();
        }
    }

    private Task Enqueue(PendingWrite pending)
    {
        lock (_queue)
        {
            ObjectDisposedException.ThrowIf(_closing, this);
            _queue.Add(pending);
            if (!pending.Lazy) _waiting++;
            // A lazy record wakes the writer only to start its clock (LazyDelay).
            if (!pending.Lazy || _queue.Count == 1) Monitor.Pulse(_queue);
        }
        return pending.Done.Task;
    }

    /// <summary>
    /// Group commit: everything queued while the last commit was being fsynced goes into the next
    /// transaction, so concurrent acknowledgements share one fsync instead of queueing for one each.
    /// Lazy records (tasks) start no commit of their own: they wait for the next record someone waits
    /// for, or <see cref="LazyDelay"/>. A batch that fails is retried one record per transaction, so one
    /// bad record fails alone.
    /// </summary>
    private void WriteLoop()
    {
        var batch = new List<PendingWrite>();
        while (true)
        {
            lock (_queue)
            {
                long due = 0;
                while (_waiting == 0 && !_closing)
                {
                    if (_queue.Count == 0)
                    {
                        Monitor.Wait(_queue);
                        continue;
                    }
                    // Counted from the first lazy record, so a stream of them cannot put their commit off for ever.
                    long now = Stopwatch.GetTimestamp();
                    if (due == 0) due = now + (long)(LazyDelay.TotalSeconds * Stopwatch.Frequency);
                    if (now >= due) break;
                    Monitor.Wait(_queue, Stopwatch.GetElapsedTime(now, due));
                }
                if (_queue.Count == 0) return;
                batch.AddRange(_queue);
                _queue.Clear();
                _waiting = 0;
            }
            lock (_lock)
            {
                if (!TryCommit(batch))
                    foreach (var one in batch) TryCommit([one]);
            }
            batch.Clear();
        }
    }

    /// <summary>Commits <paramref name="writes"/> in one transaction and completes them; false (nothing completed) when a batch of several fails.</summary>
    private bool TryCommit(List<PendingWrite> writes)
    {
        if (_failure is not null)
        {
            // The journal is a prefix of what was queued: nothing is kept past a record that was not.
            foreach (var w in writes) w.Done.TrySetException(new IOException($"The journal {Path} could not record {w.What}: an earlier record failed ({_failure.Message}).", _failure));
            return true;
        }
        bool payloads = false;
        foreach (var w in writes) payloads |= w.NamesPayload;
        bool syncing = false;
        try
        {
            // The payloads were written when they were recorded; they are fsynced on the syncer while
            // the rows that name them commit here, and nothing is acknowledged before both are done.
            // Rows may so be durable before their bytes: a crash can leave the last group's rows naming
            // bytes it lost, which the next open drops (DropUnsynced), since none of them was acknowledged.
            // Every group before the last was synced whole: the next commit starts only after it.
            _group++;
            if (payloads)
            {
                _syncRequested.Release();
                syncing = true;
            }
            using (var transaction = _connection.BeginTransaction())
            {
                foreach (var w in writes) w.Write(transaction);
                Write(transaction, "UPDATE federation SET last_group = $group WHERE id = 1", ("$group", _group));
                transaction.Commit();
            }
            if (syncing)
            {
                syncing = false;
                _syncDone.Wait();
                if (_syncFailure is { } failed) throw new IOException(failed.Message, failed);
            }
            foreach (var w in writes)
            {
                try
                {
                    w.Committed?.Invoke();
                }
                catch (IOException)
                {
                    // Clean-up after a commit (deleting a closed round's payloads) is retried later; the record stands.
                }
                w.Done.TrySetResult();
            }
            return true;
        }
        catch (Exception e) when (e is SqliteException or IOException)
        {
            // A commit that failed still waits for its sync, so that two never run at once.
            if (syncing) _syncDone.Wait();
            if (_syncFailure is not null)
            {
                // The rows may be committed, but their payloads are not safe: nothing here is acknowledged, and nothing after.
                _failure = _syncFailure;
                var lost = new IOException($"The journal {Path} could not flush the payloads of {writes.Count} record(s): {_syncFailure.Message}", _syncFailure);
                foreach (var w in writes) w.Done.TrySetException(lost);
                _broken.TrySetException(lost);
                return true;
            }
            if (writes.Count > 1) return false;
            _failure = e;
            var failure = new IOException($"The journal {Path} could not record {writes[0].What}: {e.Message}", e);
            writes[0].Done.TrySetException(failure);
            _broken.TrySetException(failure);
            return true;
        }
    }

    /// <summary>Flushes the payload log each time the writer asks, beside the writer's commit.</summary>
    private void SyncLoop()
    {
        while (true)
        {
            _syncRequested.Wait();
            // Dispose releases once more after the writer has stopped.
            if (_syncerStopping) return;
            try
            {
                _payloads.Sync();
            }
            catch (IOException e)
            {
                _syncFailure = e;
            }
            _syncDone.Release();
        }
    }

    /// <summary>
    /// Deletes the acceptances of the last commit group whose payloads a crash lost or tore (missing,
    /// short, or failing their checksum): they were committed beside their payloads' fsync, which did not
    /// finish, so none was acknowledged; their devices' retries are accepted anew. Anywhere else, such a
    /// payload is damage, and <see cref="Load"/> says so.
    /// </summary>
    private static void DropUnsynced(SqliteConnection connection, PayloadLog payloads, long group)
    {
        var lost = new List<string>();
        using (var read = Command(connection, null,
            "SELECT task_id, round, payload_offset, payload_bytes, payload_crc FROM accepted WHERE commit_group = $group AND payload_offset IS NOT NULL", ("$group", group)))
        using (var row = read.ExecuteReader())
        {
            while (row.Read())
            {
                try
                {
                    byte[] payload = payloads.Read(row.GetInt64(1), row.GetInt64(2), checked((int)row.GetInt64(3)));
                    if (Crc32C.HashToUInt32(payload) == (uint)row.GetInt64(4)) continue;
                }
                catch (InvalidDataException)
                {
                    // Missing or short: lost with the rest of the group's unsynced bytes.
                }
                lost.Add(row.GetString(0));
            }
        }
        foreach (string task in lost) Execute(connection, null, "DELETE FROM accepted WHERE task_id = $task", ("$task", task));
    }

    /// <summary>What the payload log may grow to under <c>maxBytes</c> (the quota less the database's files), or null for no quota.</summary>
    private long? RoomForPayloads()
    {
        if (_maxBytes is not long quota) return null;
        long database = 0;
        foreach (string file in new[] { Path, Path + "-wal" })
            if (File.Exists(file)) database += new FileInfo(file).Length;
        return quota - database;
    }

    /// <summary>A record waiting for the writer.</summary>
    private sealed class PendingWrite(string what, Action<SqliteTransaction> write)
    {
        public string What { get; } = what;

        public Action<SqliteTransaction> Write { get; } = write;

        /// <summary>Its rows name a payload in the log, which must be fsynced before they are committed.</summary>
        public bool NamesPayload { get; init; }

        /// <summary>Runs on the writer after the commit.</summary>
        public Action? Committed { get; init; }

        /// <summary>Nobody waits for it (a task): it rides with the next commit rather than start one.</summary>
        public bool Lazy { get; init; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private List<RecordedRound> LoadRounds()
    {
        var rounds = new List<RecordedRound>();
        using var read = Command(_connection, null, "SELECT * FROM rounds ORDER BY round");
        using var row = read.ExecuteReader();
        while (row.Read())
        {
            byte[] weights = (byte[])row["weights"];
            long round = row.GetInt64(row.GetOrdinal("round"));
            if (weights.Length % sizeof(float) != 0 || Crc32C.HashToUInt32(weights) != (uint)row.GetInt64(row.GetOrdinal("weights_crc")))
                throw new InvalidDataException($"The model of round {round} in {Path} fails its checksum.");
            FederatedEvaluation? evaluation = row.IsDBNull(row.GetOrdinal("eval_clients")) ? null : new FederatedEvaluation(
                row.GetInt32(row.GetOrdinal("eval_clients")), row.GetInt64(row.GetOrdinal("eval_examples")),
                row.GetDouble(row.GetOrdinal("eval_loss")), row.GetDouble(row.GetOrdinal("eval_accuracy")));
            var summary = new RoundSummary(round, new ModelVersion(row.GetInt64(row.GetOrdinal("version"))),
                row.GetInt32(row.GetOrdinal("updates")), row.GetInt32(row.GetOrdinal("rejected")), row.GetInt64(row.GetOrdinal("samples")),
                row.GetInt64(row.GetOrdinal("payload_bytes")), row.GetDouble(row.GetOrdinal("seconds")), row.GetDouble(row.GetOrdinal("aggregate_seconds")),
                row.GetInt32(row.GetOrdinal("by_deadline")) != 0,
                new AggregationMetrics(row.GetInt32(row.GetOrdinal("step_updates")), row.GetDouble(row.GetOrdinal("update_norm")), row.GetDouble(row.GetOrdinal("step_norm"))),
                evaluation);
            if (rounds.Count > 0 && round != rounds[^1].Summary.Round + 1)
                throw new InvalidDataException($"The journal {Path} jumps from round {rounds[^1].Summary.Round} to {round}.");
            rounds.Add(new RecordedRound(summary, MemoryMarshal.Cast<byte, float>(weights).ToArray(), (byte[])row["server_state"]));
        }
        return rounds;
    }

    private List<RoundTask> LoadTasks(long lastRound)
    {
        var tasks = new List<RoundTask>();
        using var read = Command(_connection, null, "SELECT * FROM tasks WHERE round >= $round ORDER BY round, rowid", ("$round", lastRound));
        using var row = read.ExecuteReader();
        while (row.Read())
        {
            var plan = new TrainingOptions(row.GetInt32(row.GetOrdinal("epochs")), row.GetInt32(row.GetOrdinal("batch")), row.GetDouble(row.GetOrdinal("lr")))
            {
                ProximalMu = row.GetDouble(row.GetOrdinal("mu")),
                Evaluate = row.GetInt32(row.GetOrdinal("evaluate")) != 0,
                Settings = JsonSerializer.Deserialize<Dictionary<string, string>>(row.GetString(row.GetOrdinal("settings"))) ?? [],
            };
            tasks.Add(new RoundTask(row.GetString(row.GetOrdinal("task_id")), row.GetString(row.GetOrdinal("client_id")), row.GetInt64(row.GetOrdinal("round")),
                new ModelVersion(row.GetInt64(row.GetOrdinal("base_version"))),
                DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64(row.GetOrdinal("deadline_ms"))), plan));
        }
        return tasks;
    }

    private (List<AcceptedUpdate>, Dictionary<string, byte[]>) LoadAccepted(long lastRound)
    {
        var accepted = new List<AcceptedUpdate>();
        var pending = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using var read = Command(_connection, null, "SELECT * FROM accepted ORDER BY rowid");
        using var row = read.ExecuteReader();
        while (row.Read())
        {
            string task = row.GetString(row.GetOrdinal("task_id"));
            long round = row.GetInt64(row.GetOrdinal("round"));
            var arrived = new UpdateArrived(new UpdateReference(row.GetString(row.GetOrdinal("reference"))), row.GetString(row.GetOrdinal("client_id")), task, round,
                new ModelVersion(row.GetInt64(row.GetOrdinal("base_version"))), row.GetInt64(row.GetOrdinal("sample_count")),
                row.GetInt64(row.GetOrdinal("payload_bytes")), row.GetString(row.GetOrdinal("node")));
            ClientEvaluation? evaluation = row.IsDBNull(row.GetOrdinal("eval_examples")) ? null : new ClientEvaluation(
                row.GetInt64(row.GetOrdinal("eval_examples")), row.GetDouble(row.GetOrdinal("eval_loss")), row.GetDouble(row.GetOrdinal("eval_accuracy")));
            accepted.Add(new AcceptedUpdate(arrived, row.GetString(row.GetOrdinal("idempotency_key")), evaluation));
            int offsetColumn = row.GetOrdinal("payload_offset");
            if (round > lastRound && !row.IsDBNull(offsetColumn))
            {
                byte[] payload = _payloads.Read(round, row.GetInt64(offsetColumn), checked((int)arrived.PayloadBytes));
                if (Crc32C.HashToUInt32(payload) != (uint)row.GetInt64(row.GetOrdinal("payload_crc")))
                    throw new InvalidDataException($"The payload of update {arrived.Reference} in {Path} fails its checksum.");
                pending[task] = payload;
            }
        }
        return (accepted, pending);
    }

    /// <summary>
    /// Runs a write on the writer's connection through a command kept per statement, so SQLite parses
    /// and plans each statement once rather than at every record (the writer's thread only).
    /// </summary>
    private void Write(SqliteTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        if (!_statements.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            _statements[sql] = command;
        }
        command.Transaction = transaction;
        command.Parameters.Clear();
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        command.ExecuteNonQuery();
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }
}
