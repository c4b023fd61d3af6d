using System.Buffers;
using System.Diagnostics;
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
public sealed class AsynchronousCoordinator : ContinuousCoordinator, IAsyncDisposable
{
    private readonly IUpdateStore _store;
    private readonly IEventBus _bus;
    private readonly ILogger _logger;
    private readonly BufferedAggregator _server;
    private readonly CorrectionQueue _queue;
    private readonly IStalenessWeighting _fallback;
    private readonly IStalenessWeighting? _weighting;
    private IAsyncDisposable? _subscription;
    private long _versionOpened;
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
        : base(layout, initialWeights, options, new FedBuff((options ?? throw new ArgumentNullException(nameof(options))).BufferSize, options.ServerLearningRate), time)
    {
        ArgumentNullException.ThrowIfNull(corrector);
        ArgumentNullException.ThrowIfNull(fallback);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(bus);
        _store = store;
        _bus = bus;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _fallback = fallback;
        _weighting = corrector as IStalenessWeighting; // Needs no base model and costs nothing: applied at once, not queued.
        _server = new BufferedAggregator(new FedBuffOptions
        {
            BufferSize = options.BufferSize,
            ServerLearningRate = options.ServerLearningRate,
            HistoryWindow = options.WindowFor(layout),
        }, layout, initialWeights);
        _queue = new CorrectionQueue(corrector, options.CorrectionQueueCapacity);
    }

    /// <summary>The corrector stale updates go to.</summary>
    public IStalenessCorrector Corrector => _queue.Corrector;

    /// <summary>A snapshot of what was done with the updates so far.</summary>
    public AsynchronousStatistics Statistics
    {
        get
        {
            lock (Gate) return Tally.Snapshot(_queue.Corrector.Name, _fallback.Name, _server.History.Capacity, _server.History.PeakBytesHeld);
        }
    }

    /// <inheritdoc/>
    protected override int Buffered => _server.Buffered;

    /// <inheritdoc/>
    protected override bool PushesBack(long staleness) => GoesToCorrector(staleness) && _queue.Pending >= _queue.Capacity;

    /// <summary>Subscribes to <see cref="UpdateArrived"/> and starts handing out tasks from version 0.</summary>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    public void Start()
    {
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(Stopped, this);
            if (Started) throw new InvalidOperationException("The coordinator is already running.");
            _subscription = _bus.Subscribe<UpdateArrived>(OnUpdateArrivedAsync);
            _versionOpened = Time.GetTimestamp();
            Started = true;
        }
    }

    /// <summary>Stops listening for updates and the correction worker; corrections still waiting are dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        IAsyncDisposable? subscription;
        lock (Gate)
        {
            if (Stopped) return;
            Stopped = true;
            subscription = _subscription;
        }
        if (subscription is not null) await subscription.DisposeAsync().ConfigureAwait(false);
        _queue.Dispose();
        lock (Gate) _server.Dispose();
        CompletionSource.TrySetCanceled();
    }

    /// <summary>Whether an update <paramref name="staleness"/> versions old will wait for the correction queue.</summary>
    private bool GoesToCorrector(long staleness) => _weighting is null && staleness >= Asynchronous.CorrectFrom;

    /// <summary>The task book's check; a stale update that would wait for a full correction queue is pushed back before it is acknowledged (and, at the header, before it streams).</summary>
    private async ValueTask OnUpdateArrivedAsync(UpdateArrived arrived, CancellationToken cancellationToken)
    {
        Held? entry = null;
        lock (Gate)
        {
            if (!Done && !Stopped && Tasks.TryBeginFold(arrived.ClientId, arrived.TaskId, out var task, out var evaluation)) entry = new Held(task, evaluation);
            else Tally.Ignored++;
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
        lock (Gate)
        {
            if (Stopped)
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
                stale = new StaleUpdate(StaleUpdate.ClientIndexOf(arrived.ClientId), Layout, delta.AsMemory(0, length), arrived.SampleCount,
                    baseVersion, baseWeights, current, _server.CurrentWeights);
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
    private void Corrected(Held entry, UpdateArrived arrived, StaleUpdate stale, float[] delta, Task<CorrectedUpdate> done, long start)
    {
        RoundClosed? closed = null;
        lock (Gate)
        {
            if (!Stopped)
            {
                if (done.IsCompletedSuccessfully)
                {
                    var result = done.Result;
                    Tally.Corrected(result.CpuSeconds, result.QueueSeconds);
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
    private RoundClosed? FoldOrFallBack(Held entry, UpdateArrived arrived, ReadOnlySpan<float> delta, ModelVersion baseVersion, double scale,
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
    private RoundClosed? Arrive(Held entry, UpdateArrived arrived, StalenessOutcome outcome, long staleness, FoldResult? folded, long start)
    {
        Tasks.Settle(entry.Task.TaskId);
        var result = folded ?? _server.Discard(_server.CurrentVersion);
        Tally.Count(arrived.ClientId, outcome, staleness);
        if (outcome == StalenessOutcome.Refused) _bufferRefused++;
        else
        {
            _bufferFolded++;
            _bufferSamples += arrived.SampleCount;
            _bufferBytes += arrived.PayloadBytes;
            if (entry.Evaluation is { } evaluation) Tally.Evaluated(evaluation);
        }
        _bufferTicks += Stopwatch.GetTimestamp() - start;
        return result.Published ? Publish(result.Version) : null;
    }

    /// <summary>Makes the server's new version the served model and summarises its buffer (gate held).</summary>
    private RoundClosed Publish(ModelVersion version)
    {
        var model = new GlobalModel(Layout, version, _server.CurrentWeights.Span);
        Serve(model);
        var summary = new RoundSummary(version.Value, version, _bufferFolded, _bufferRefused, _bufferSamples, _bufferBytes,
            Time.GetElapsedTime(_versionOpened).TotalSeconds, Stopwatch.GetElapsedTime(0, _bufferTicks).TotalSeconds, ClosedByDeadline: false,
            Evaluation: Tally.TakeEvaluation(Strategy, version.Value));
        Summaries.Add(summary);
        _bufferFolded = _bufferRefused = 0;
        _bufferSamples = _bufferBytes = _bufferTicks = 0;
        _versionOpened = Time.GetTimestamp();
        bool final = version.Value >= Asynchronous.Versions;
        if (final)
        {
            Done = true;
            Tasks.ForgetDevices();
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
        if (closed.Final) CompletionSource.TrySetResult();
    }

    /// <summary>A reserved update on its way to the fold: its task and the device's score of the task's model.</summary>
    private sealed record Held(RoundTask Task, ClientEvaluation? Evaluation);
}
