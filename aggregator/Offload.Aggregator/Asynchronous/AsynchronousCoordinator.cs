using System.Buffers;
using System.Diagnostics;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Offload.Aggregator.Buffered;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Staleness;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Asynchronous;

/// <summary>
/// Buffered asynchronous federated learning (FedBuff, Nguyen et al. 2022) for real devices, behind
/// the gateway's <see cref="IRoundCoordinator"/> seam. Tasks go out continuously, each from the
/// newest version; every <see cref="AsynchronousOptions.BufferSize"/> arrivals the server steps and
/// publishes a version (announced as a <see cref="RoundClosed"/> whose round is the version). A
/// corrector that only weights (<see cref="IStalenessWeighting"/>) is applied as the update folds; any
/// other gets each stale update at least <see cref="AsynchronousOptions.CorrectFrom"/> versions old on
/// the <see cref="CorrectionQueue"/>, with its base model from the bounded window, and the update is
/// folded when its correction is done; one older than the window, or younger than CorrectFrom, is
/// weighted by the fall-back, which needs no base model.
/// </summary>
/// <remarks>
/// <para>Exactly once: the gateway reserves before it acknowledges, and at most Versions x K
/// reservations are ever held, each of which becomes exactly one arrival (folded, weighted or
/// refused), so the last version is published with every acknowledged update in it and none left
/// over. A second delivery of an update matches no reservation and is dropped.</para>
/// <para>Correction never blocks ingest: a stale upload is pushed back (<see cref="SubmissionCheck.Busy"/>,
/// which devices retry after a delay) while the queue is full, before anything is acknowledged.
/// An update reserved while fresh that has gone stale by the time it folds waits for room instead.</para>
/// <para>All public members are thread-safe; folding runs under one lock, on the bus's delivery and
/// on the correction worker's completions.</para>
/// </remarks>
public sealed class AsynchronousCoordinator : IRoundCoordinator, IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly AsynchronousOptions _options;
    private readonly IUpdateStore _store;
    private readonly IEventBus _bus;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly FedBuff _strategy;
    private readonly BufferedAggregator _server;
    private readonly CorrectionQueue _queue;
    private readonly IStalenessWeighting _fallback;
    private readonly IStalenessWeighting? _weighting;
    private readonly Dictionary<string, Entry> _tasks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry> _taskByClient = new(StringComparer.Ordinal);
    private readonly GlobalModel[] _served = new GlobalModel[AsynchronousOptions.ServedVersions];
    private readonly List<RoundSummary> _summaries = [];
    private readonly List<ClientEvaluation> _evaluations = [];
    private readonly Dictionary<StalenessOutcome, long> _outcomes = [];
    private readonly Dictionary<string, ClientCounts> _byClient = new(StringComparer.Ordinal);
    private readonly List<double> _correctionCpu = [];
    private readonly List<double> _correctionQueue = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile GlobalModel _model;
    private IAsyncDisposable? _subscription;
    private bool _started;
    private bool _stopped;
    private bool _done;
    private int _open;
    private long _reservations;
    private long _lastPrune;
    private long _versionOpened;
    private int _pendingCorrections;
    private long _ignored;
    private long _maxStaleness;
    private double _stalenessSum;
    private long _foldedTotal;
    private int _bufferFolded;
    private int _bufferRefused;
    private long _bufferSamples;
    private long _bufferBytes;
    private long _bufferTicks;

    /// <summary>Holds <paramref name="initialWeights"/> as version 0; <see cref="Start"/> starts handing out tasks.</summary>
    /// <param name="corrector">Runs on the correction queue's worker, one stale update at a time; the coordinator does not dispose it.</param>
    /// <param name="fallback">Weights what cannot be corrected: updates older than the window, and failed corrections.</param>
    /// <exception cref="ArgumentException">The weights do not match the layout or are not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public AsynchronousCoordinator(TensorLayout layout, ReadOnlySpan<float> initialWeights, AsynchronousOptions options,
        IStalenessCorrector corrector, IStalenessWeighting fallback, IUpdateStore store, IEventBus bus,
        TimeProvider? time = null, ILogger<AsynchronousCoordinator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(corrector);
        ArgumentNullException.ThrowIfNull(fallback);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(bus);
        _options = options.Validate();
        _store = store;
        _bus = bus;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _fallback = fallback;
        _weighting = corrector as IStalenessWeighting; // Needs no base model and costs nothing: applied at once, not queued.
        _strategy = new FedBuff(options.BufferSize, options.ServerLearningRate);
        _server = new BufferedAggregator(new FedBuffOptions
        {
            BufferSize = options.BufferSize,
            ServerLearningRate = options.ServerLearningRate,
            HistoryWindow = options.WindowFor(layout),
        }, layout, initialWeights);
        _model = new GlobalModel(layout, ModelVersion.Initial, initialWeights);
        _served[0] = _model;
        _queue = new CorrectionQueue(corrector, options.CorrectionQueueCapacity);
        Options = new RoundOptions
        {
            MinClients = options.BufferSize,
            Rounds = options.Versions,
            RoundDeadline = options.TaskLifetime,
            WaitRetry = options.WaitRetry,
            Plan = options.Plan,
            Strategy = _strategy,
        };
    }

    /// <inheritdoc/>
    public TensorLayout Layout => _model.Layout;

    /// <summary>The settings in rounds' terms, for the gateway: a version is a round, K its quorum.</summary>
    public RoundOptions Options { get; }

    /// <summary>The asynchronous settings.</summary>
    public AsynchronousOptions Asynchronous => _options;

    /// <summary>The corrector stale updates go to.</summary>
    public IStalenessCorrector Corrector => _queue.Corrector;

    /// <inheritdoc/>
    public GlobalModel Model => _model;

    /// <inheritdoc/>
    public GlobalModel Broadcast => _model;

    /// <inheritdoc/>
    public Task Completion => _completion.Task;

    /// <inheritdoc/>
    public bool Ready
    {
        get { lock (_gate) return _started && !_stopped; }
    }

    /// <summary>Every published version's summary, in order (its round is the version).</summary>
    public IReadOnlyList<RoundSummary> Rounds
    {
        get { lock (_gate) return _summaries.ToArray(); }
    }

    /// <inheritdoc/>
    public CoordinatorStatus Status
    {
        get
        {
            lock (_gate)
            {
                long version = _model.Version.Value;
                return new CoordinatorStatus(_done, _done ? version : version + 1, _model.Version, _options.Versions,
                    _server.Buffered, _options.BufferSize, _foldedTotal);
            }
        }
    }

    /// <summary>A snapshot of what was done with the updates so far.</summary>
    public AsynchronousStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                var byClient = new List<ClientStaleness>(_byClient.Count);
                foreach (var (client, c) in _byClient) byClient.Add(new ClientStaleness(client, c.Updates, c.Stale, c.Corrected, c.FellBack, c.MaxStaleness));
                long folded = _foldedTotal;
                return new AsynchronousStatistics(_queue.Corrector.Name, _fallback.Name, new Dictionary<StalenessOutcome, long>(_outcomes),
                    _maxStaleness, folded == 0 ? 0 : _stalenessSum / folded, _correctionCpu.ToArray(), _correctionQueue.ToArray(),
                    _server.History.Capacity, _server.History.PeakBytesHeld, _ignored, byClient);
            }
        }
    }

    /// <summary>Subscribes to <see cref="UpdateArrived"/> and starts handing out tasks from version 0.</summary>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            if (_started) throw new InvalidOperationException("The coordinator is already running.");
            _subscription = _bus.Subscribe<UpdateArrived>(OnUpdateArrivedAsync);
            _versionOpened = _time.GetTimestamp();
            _started = true;
        }
    }

    /// <inheritdoc/>
    public GlobalModel? ServedModel(ModelVersion version)
    {
        if (version.Value < 0) return null;
        var model = _served[(int)(version.Value % _served.Length)];
        return model is not null && model.Version == version ? model : null;
    }

    /// <summary>
    /// Work for <paramref name="clientId"/>: the task it holds if the model has not moved since, else a
    /// new one from the newest version while there is room (<see cref="AsynchronousOptions.Concurrency"/>);
    /// wait when every update the federation still needs is reserved; done after the last version.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not started.</exception>
    public TaskOffer RequestTask(string clientId)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        lock (_gate)
        {
            EnsureStarted();
            if (_done) return TaskOffer.Done;
            if (_reservations >= Needed) return TaskOffer.Wait(_options.WaitRetry);
            var now = _time.GetUtcNow();
            Prune(now);
            var version = _model.Version;
            if (_taskByClient.TryGetValue(clientId, out var held) && held.State == EntryState.Open)
            {
                if (held.Task.BaseVersion == version && held.Task.Deadline > now) return TaskOffer.Assigned(held.Task);
                Forget(held); // The device asks again: it gave its task up (it restarted, or skipped); the newest model replaces it.
            }
            if (_options.Concurrency > 0 && _open >= _options.Concurrency) return TaskOffer.Wait(_options.WaitRetry);
            var task = new RoundTask($"v{version.Value}-{Guid.NewGuid():N}", clientId, version.Value + 1, version, now + _options.TaskLifetime, _options.Plan);
            var entry = new Entry(task);
            _tasks.Add(task.TaskId, entry);
            _taskByClient[clientId] = entry;
            _open++;
            return TaskOffer.Assigned(task);
        }
    }

    /// <inheritdoc/>
    public SubmissionCheck CheckSubmission(string clientId, string taskId, out RoundTask? task)
    {
        lock (_gate)
        {
            EnsureStarted();
            return Check(clientId, taskId, out task, out _);
        }
    }

    /// <summary>
    /// Reserves a place in the federation for the update to <paramref name="taskId"/>, which the caller
    /// then stores and announces. A stale update is pushed back (<see cref="SubmissionCheck.Busy"/>) while
    /// the correction queue is full.
    /// </summary>
    public SubmissionCheck TryReserve(string clientId, string taskId, ClientEvaluation? evaluation = null)
    {
        lock (_gate)
        {
            EnsureStarted();
            var check = Check(clientId, taskId, out _, out var entry);
            if (check != SubmissionCheck.Open) return check;
            entry!.State = EntryState.Reserved;
            entry.Evaluation = evaluation;
            _open--;
            _reservations++;
            return SubmissionCheck.Open;
        }
    }

    /// <inheritdoc/>
    public void CancelReservation(string clientId, string taskId)
    {
        lock (_gate)
        {
            if (!_tasks.TryGetValue(taskId, out var entry) || entry.Task.ClientId != clientId || entry.State != EntryState.Reserved) return;
            entry.State = EntryState.Open;
            entry.Evaluation = null;
            _open++;
            _reservations--;
        }
    }

    /// <summary>Stops listening for updates and the correction worker; corrections still waiting are dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        IAsyncDisposable? subscription;
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            subscription = _subscription;
        }
        if (subscription is not null) await subscription.DisposeAsync().ConfigureAwait(false);
        _queue.Dispose();
        lock (_gate) _server.Dispose();
        _completion.TrySetCanceled();
    }

    /// <summary>Whether an update <paramref name="staleness"/> versions old will wait for the correction queue.</summary>
    private bool GoesToCorrector(long staleness) => _weighting is null && staleness >= _options.CorrectFrom;

    /// <summary>Updates the federation takes in all: K per version.</summary>
    private long Needed => (long)_options.Versions * _options.BufferSize;

    private SubmissionCheck Check(string clientId, string taskId, out RoundTask? task, out Entry? entry)
    {
        task = null;
        entry = null;
        if (string.IsNullOrEmpty(taskId) || !_tasks.TryGetValue(taskId, out var found) || found.Task.ClientId != clientId) return SubmissionCheck.NotHeld;
        task = found.Task;
        entry = found;
        if (found.State != EntryState.Open) return SubmissionCheck.AlreadySubmitted;
        if (_done || _stopped || found.Task.Deadline <= _time.GetUtcNow() || _reservations >= Needed) return SubmissionCheck.RoundClosed;
        // A stale update that would wait for a full correction queue is pushed back before it is acknowledged (and, at the header, before it streams).
        if (GoesToCorrector(found.Task.BaseVersion.StalenessAt(_model.Version)) && _queue.Pending >= _queue.Capacity) return SubmissionCheck.Busy;
        return SubmissionCheck.Open;
    }

    /// <summary>Drops tasks past their lifetime, at most once a second (gate held): open ones free their place, settled ones are forgotten.</summary>
    private void Prune(DateTimeOffset now)
    {
        long tick = _time.GetTimestamp();
        if (_lastPrune != 0 && _time.GetElapsedTime(_lastPrune, tick) < TimeSpan.FromSeconds(1)) return;
        _lastPrune = tick;
        List<Entry>? expired = null;
        foreach (var entry in _tasks.Values)
            if (entry.Task.Deadline <= now && entry.State is EntryState.Open or EntryState.Settled) (expired ??= []).Add(entry);
        if (expired is null) return;
        foreach (var entry in expired) Forget(entry);
    }

    private void Forget(Entry entry)
    {
        _tasks.Remove(entry.Task.TaskId);
        if (_taskByClient.TryGetValue(entry.Task.ClientId, out var current) && ReferenceEquals(current, entry)) _taskByClient.Remove(entry.Task.ClientId);
        if (entry.State == EntryState.Open) _open--;
    }

    private async ValueTask OnUpdateArrivedAsync(UpdateArrived arrived, CancellationToken cancellationToken)
    {
        Entry? entry = null;
        lock (_gate)
        {
            if (!_done && !_stopped && _tasks.TryGetValue(arrived.TaskId, out var found) && found.Task.ClientId == arrived.ClientId && found.State == EntryState.Reserved)
            {
                entry = found;
                entry.State = EntryState.Folding;
            }
            else _ignored++;
        }
        if (entry is null)
        {
            _logger.LogWarning("Ignoring update {Reference}: no reservation awaits it.", arrived.Reference);
            await _store.DeleteAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
            return;
        }

        long start = Stopwatch.GetTimestamp();
        int length = Layout.TotalLength;
        float[] delta = ArrayPool<float>.Shared.Rent(length);
        bool decoded = await DecodeAsync(arrived, delta.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        await _store.DeleteAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);

        StaleUpdate? stale = null;
        RoundClosed? closed = null;
        lock (_gate)
        {
            if (_stopped)
            {
                ArrayPool<float>.Shared.Return(delta);
                return;
            }
            var current = _server.CurrentVersion;
            var baseVersion = entry.Task.BaseVersion;
            long staleness = baseVersion.StalenessAt(current);
            if (!decoded) closed = Arrive(entry, arrived, StalenessOutcome.Refused, staleness, null, start);
            else if (staleness == 0) closed = FoldOrFallBack(entry, arrived, delta, baseVersion, 1.0, StalenessOutcome.Fresh, staleness, start);
            else if (!_server.History.TryGet(baseVersion, out var baseWeights))
                closed = FoldOrFallBack(entry, arrived, delta, baseVersion, _fallback.WeightOf(staleness), StalenessOutcome.BeyondWindow, staleness, start);
            else if (!GoesToCorrector(staleness))
            {
                // A weight from the staleness alone: folded now, no queue (the corrector's own, or the fall-back's for an update too young to correct).
                double scale = (_weighting ?? _fallback).WeightOf(staleness);
                closed = FoldOrFallBack(entry, arrived, delta, baseVersion, scale, scale == 1.0 ? StalenessOutcome.Unchanged : StalenessOutcome.Weighted, staleness, start);
            }
            else
            {
                stale = new StaleUpdate(ClientIndex(arrived.ClientId), Layout, delta.AsMemory(0, length), arrived.SampleCount,
                    baseVersion, baseWeights, current, _server.CurrentWeights);
                _pendingCorrections++;
            }
            if (stale is null) ArrayPool<float>.Shared.Return(delta);
        }
        Announce(closed);
        if (stale is null) return;

        Task<CorrectedUpdate> correction;
        try
        {
            // Waits only when the queue is full (an update reserved fresh that went stale meanwhile).
            correction = await _queue.EnqueueAsync(stale, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            correction = Task.FromException<CorrectedUpdate>(e);
        }
        _ = correction.ContinueWith(done => Corrected(entry, arrived, stale, delta, done, start),
            CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    /// <summary>Decodes a stored payload into <paramref name="destination"/>; false when it is missing, not the announced size, or not decodable.</summary>
    private async ValueTask<bool> DecodeAsync(UpdateArrived arrived, Memory<float> destination, CancellationToken cancellationToken)
    {
        try
        {
            using var lease = await _store.LeaseAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
            if (lease.Memory.Length != arrived.PayloadBytes)
            {
                _logger.LogWarning("Update {Reference} holds {Length} bytes; {Announced} were announced.", arrived.Reference, lease.Memory.Length, arrived.PayloadBytes);
                return false;
            }
            var payload = lease.Memory.Span;
            UpdatePayload.CodecFor(payload).Decode(payload, Layout, destination.Span);
            return true;
        }
        catch (Exception e) when (e is UpdateNotFoundException or InvalidDataException or InvalidPayloadException or ArgumentException)
        {
            _logger.LogWarning(e, "Update {Reference} could not be read and was left out.", arrived.Reference);
            return false;
        }
    }

    /// <summary>Folds a stale update once its correction is done (the corrector's answer, or the fall-back if it failed).</summary>
    private void Corrected(Entry entry, UpdateArrived arrived, StaleUpdate stale, float[] delta, Task<CorrectedUpdate> done, long start)
    {
        RoundClosed? closed = null;
        lock (_gate)
        {
            _pendingCorrections--;
            if (!_stopped)
            {
                if (done.IsCompletedSuccessfully)
                {
                    var result = done.Result;
                    _correctionCpu.Add(result.CpuSeconds);
                    _correctionQueue.Add(result.QueueSeconds);
                    var c = result.Correction;
                    var outcome = c.Outcome switch
                    {
                        CorrectionOutcome.Corrected => StalenessOutcome.Corrected,
                        CorrectionOutcome.FellBack => StalenessOutcome.FellBack,
                        CorrectionOutcome.Weighted => StalenessOutcome.Weighted,
                        _ => StalenessOutcome.Unchanged,
                    };
                    // A corrected update is for the model it was corrected against; anything else is still the stale one.
                    var baseVersion = outcome == StalenessOutcome.Corrected ? stale.CurrentVersion : stale.BaseVersion;
                    closed = FoldOrFallBack(entry, arrived, c.Delta.Span, baseVersion, c.Scale, outcome, stale.Staleness, start, stale.Delta.Span);
                }
                else
                {
                    _logger.LogWarning(done.Exception?.InnerException, "Correcting update {Reference} failed; the fall-back weights it.", arrived.Reference);
                    closed = FoldOrFallBack(entry, arrived, stale.Delta.Span, stale.BaseVersion, _fallback.WeightOf(stale.Staleness), StalenessOutcome.FellBack, stale.Staleness, start);
                }
            }
            ArrayPool<float>.Shared.Return(delta);
        }
        Announce(closed);
    }

    /// <summary>
    /// Folds <paramref name="delta"/> (gate held); if it is refused (not finite: a correction that
    /// blew up) the raw stale update is folded with the fall-back's weight instead, and if even that is
    /// refused the arrival is counted with nothing folded.
    /// </summary>
    private RoundClosed? FoldOrFallBack(Entry entry, UpdateArrived arrived, ReadOnlySpan<float> delta, ModelVersion baseVersion, double scale,
        StalenessOutcome outcome, long staleness, long start, ReadOnlySpan<float> raw = default)
    {
        var length = Layout.TotalLength;
        try
        {
            var result = _server.Fold(delta[..length], arrived.SampleCount, baseVersion, scale, beyondWindow: true);
            return Arrive(entry, arrived, outcome, staleness, result, start);
        }
        catch (ArgumentException e) when (!raw.IsEmpty)
        {
            _logger.LogWarning(e, "The correction of update {Reference} cannot be folded; the fall-back weights the update as it came.", arrived.Reference);
            return FoldOrFallBack(entry, arrived, raw, arrived.BaseVersion, _fallback.WeightOf(staleness), StalenessOutcome.FellBack, staleness, start);
        }
        catch (ArgumentException e)
        {
            _logger.LogWarning(e, "Update {Reference} cannot be folded and was left out.", arrived.Reference);
            return Arrive(entry, arrived, StalenessOutcome.Refused, staleness, null, start);
        }
    }

    /// <summary>Settles one arrival (gate held): counts it and, when it completed the buffer, publishes the new version.</summary>
    private RoundClosed? Arrive(Entry entry, UpdateArrived arrived, StalenessOutcome outcome, long staleness, FoldResult? folded, long start)
    {
        entry.State = EntryState.Settled;
        var result = folded ?? _server.Discard(_server.CurrentVersion);
        _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + 1;
        if (!_byClient.TryGetValue(arrived.ClientId, out var counts)) _byClient[arrived.ClientId] = counts = new ClientCounts();
        counts.Updates++;
        if (outcome == StalenessOutcome.Refused) _bufferRefused++;
        else
        {
            _bufferFolded++;
            _foldedTotal++;
            _bufferSamples += arrived.SampleCount;
            _bufferBytes += arrived.PayloadBytes;
            _stalenessSum += staleness;
            _maxStaleness = Math.Max(_maxStaleness, staleness);
            if (entry.Evaluation is { } evaluation) _evaluations.Add(evaluation);
        }
        if (staleness > 0)
        {
            counts.Stale++;
            counts.MaxStaleness = Math.Max(counts.MaxStaleness, staleness);
            if (outcome == StalenessOutcome.Corrected) counts.Corrected++;
            if (outcome is StalenessOutcome.FellBack or StalenessOutcome.BeyondWindow) counts.FellBack++;
        }
        _bufferTicks += Stopwatch.GetTimestamp() - start;
        return result.Published ? Publish(result.Version) : null;
    }

    /// <summary>Makes the server's new version the served model and summarises its buffer (gate held).</summary>
    private RoundClosed Publish(ModelVersion version)
    {
        var model = new GlobalModel(Layout, version, _server.CurrentWeights.Span);
        _served[(int)(version.Value % _served.Length)] = model;
        _model = model;
        var summary = new RoundSummary(version.Value, version, _bufferFolded, _bufferRefused, _bufferSamples, _bufferBytes,
            _time.GetElapsedTime(_versionOpened).TotalSeconds, Stopwatch.GetElapsedTime(0, _bufferTicks).TotalSeconds, ClosedByDeadline: false,
            Evaluation: _evaluations.Count > 0 ? _strategy.Evaluate(version.Value, [.. _evaluations]) : null);
        _summaries.Add(summary);
        _evaluations.Clear();
        _bufferFolded = _bufferRefused = 0;
        _bufferSamples = _bufferBytes = _bufferTicks = 0;
        _versionOpened = _time.GetTimestamp();
        bool final = version.Value >= _options.Versions;
        if (final)
        {
            _done = true;
            _taskByClient.Clear();
        }
        _logger.LogInformation("Version {Version} published from {Updates} updates.", version, summary.Updates);
        return new RoundClosed(version.Value, version, summary.Updates, final);
    }

    private void Announce(RoundClosed? closed)
    {
        if (closed is null) return;
        try
        {
            _bus.PublishAsync(closed).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException)
        {
            _logger.LogDebug(e, "RoundClosed for version {Version} was not published: the bus is stopping.", closed.Version);
        }
        if (closed.Final) _completion.TrySetResult();
    }

    /// <summary>A device's index for the corrector's per-client state (warm starts), stable across processes and restarts.</summary>
    private static int ClientIndex(string clientId) => (int)(XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(clientId)) & int.MaxValue);

    private void EnsureStarted()
    {
        ObjectDisposedException.ThrowIf(_stopped, this);
        if (!_started) throw new InvalidOperationException("The coordinator has not been started.");
    }

    private enum EntryState
    {
        Open,
        Reserved,
        Folding,
        Settled,
    }

    private sealed class Entry(RoundTask task)
    {
        public RoundTask Task { get; } = task;
        public EntryState State { get; set; }
        public ClientEvaluation? Evaluation { get; set; }
    }

    private sealed class ClientCounts
    {
        public long Updates { get; set; }
        public long Stale { get; set; }
        public long Corrected { get; set; }
        public long FellBack { get; set; }
        public long MaxStaleness { get; set; }
    }
}
