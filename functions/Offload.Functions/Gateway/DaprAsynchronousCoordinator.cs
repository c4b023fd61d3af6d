using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Offload.Aggregator.Asynchronous;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Staleness;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Model;
using Offload.Functions.Aggregation;
using Offload.Functions.Correction;
using Offload.Functions.Rounds;
using Offload.Functions.Storage;

namespace Offload.Functions.Gateway;

/// <summary>
/// Buffered asynchronous aggregation (FedBuff) in the Dapr deployment. The gateway hands out tasks
/// continuously (<see cref="ContinuousTasks"/>, the same book as in process); version v is round
/// v on its <see cref="RoundActor"/>, which expects K arrivals, so the leaf, middle and top functions
/// fold every K updates into the next version, whatever version each was trained from. Each
/// update is announced to the round open when it was accepted (one that comes after that round
/// filled is carried to the next by the leaf), and its staleness decides where it goes:
/// <list type="bullet">
/// <item>fresh, or younger than <see cref="AsynchronousOptions.CorrectFrom"/>, or with a corrector
/// that only weights: to the leaves, which weigh it by the round strategy's staleness weighting
/// (<see cref="FedBuff.ScaleOf"/>) at the version it folds into;</item>
/// <item>older than the window of stored models: to the leaves with the fall-back's weight
/// (<see cref="UpdateArrived.Scale"/>), never as if fresh;</item>
/// <item>otherwise, with a corrector app: as a <see cref="StaleUpdateArrived"/> naming its base model
/// and the newest, which the corrector app turns into a corrected update for the leaves.</item>
/// </list>
/// </summary>
/// <remarks>
/// <para>Exactly once: as in process, at most Versions x K updates are reserved, and each reaches a
/// round's actor once (the actor counts a repeated delivery once), so the last version holds every
/// acknowledged update. The window's models stay in the state store for the corrector; older ones
/// are deleted as versions are published.</para>
/// <para>Correction never blocks ingest: stale updates sent to the corrector and not yet reported
/// back (<see cref="CorrectionReported"/>) are bounded by <see cref="AsynchronousOptions.CorrectionQueueCapacity"/>;
/// past it, stale uploads are pushed back (<see cref="SubmissionCheck.Busy"/>, a retry delay for the device).</para>
/// <para>No resume: the task book lives in this process, and a gateway that finds rounds of an
/// earlier federation in the actors refuses to start rather than mix the two.</para>
/// </remarks>
public sealed class DaprAsynchronousCoordinator : ContinuousCoordinator, IModelPublishedObserver, ICorrectionObserver, IAsyncDisposable
{
    private static readonly TimeSpan OpenRetry = TimeSpan.FromSeconds(1);

    private readonly RoundActors _actors;
    private readonly IUpdateStore _store;
    private readonly IEventBus? _announcements;
    private readonly ILogger _logger;
    private readonly IStalenessWeighting _fallback;
    private readonly bool _corrects;
    private readonly TensorShape[] _shapes;
    private readonly int _window;
    private readonly Dictionary<long, UpdateReference> _models = [];
    private readonly HashSet<string> _correcting = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private long _round;
    private long _roundOpened;
    private bool _opening;

    /// <summary>Holds <paramref name="initialWeights"/> as version 0; <see cref="StartAsync"/> opens round 1.</summary>
    /// <param name="layout">The model's tensors.</param>
    /// <param name="initialWeights">Version 0.</param>
    /// <param name="options">The asynchronous settings.</param>
    /// <param name="weighting">How the leaves weigh an update by its staleness: the corrector itself when it only weights, else the fall-back.</param>
    /// <param name="fallback">The weight of an update older than the window.</param>
    /// <param name="corrects">Whether a corrector app takes stale updates at least <see cref="AsynchronousOptions.CorrectFrom"/> old.</param>
    /// <param name="actors">Calls the rounds' actors through the sidecar.</param>
    /// <param name="store">The store the functions share (models go there).</param>
    /// <param name="announcements">Gets a <see cref="RoundClosed"/> per version (reporting); optional.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Logs version changes.</param>
    /// <exception cref="ArgumentException">The weighting is not one the functions can rebuild (polynomial, hinge or none).</exception>
    public DaprAsynchronousCoordinator(TensorLayout layout, ReadOnlySpan<float> initialWeights, AsynchronousOptions options, IStalenessWeighting weighting,
        IStalenessWeighting fallback, bool corrects, RoundActors actors, IUpdateStore store, IEventBus? announcements = null, TimeProvider? time = null,
        ILogger<DaprAsynchronousCoordinator>? logger = null)
        : base(layout, initialWeights, options, StrategyFor(options, weighting), time)
    {
        ArgumentNullException.ThrowIfNull(fallback);
        ArgumentNullException.ThrowIfNull(actors);
        ArgumentNullException.ThrowIfNull(store);
        _fallback = fallback;
        _corrects = corrects;
        _actors = actors;
        _store = store;
        _announcements = announcements;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _shapes = TensorShape.Of(layout);
        _window = options.WindowFor(layout);
    }

    /// <summary>FedBuff with <paramref name="weighting"/> as its staleness weighting, which the functions rebuild from the strategy's name.</summary>
    /// <exception cref="ArgumentException">The weighting is not polynomial, hinge or none.</exception>
    public static FedBuff StrategyFor(AsynchronousOptions options, IStalenessWeighting weighting)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(weighting);
        return weighting switch
        {
            PolynomialStalenessWeighting p => new FedBuff(options.BufferSize, options.ServerLearningRate, polynomial: p.Exponent),
            HingeStalenessWeighting h => new FedBuff(options.BufferSize, options.ServerLearningRate, hinge: h.Slope, hingeThreshold: h.Threshold),
            UnweightedCorrector => new FedBuff(options.BufferSize, options.ServerLearningRate),
            _ => throw new ArgumentException($"The functions weigh staleness polynomially, by a hinge, or not at all; '{weighting.Name}' is none of them.", nameof(weighting)),
        };
    }

    /// <summary>What was done with the updates so far: routed at once, or reported back by the corrector app.</summary>
    public AsynchronousStatistics Statistics
    {
        get { lock (Gate) return Tally.Snapshot(_corrects ? "corrector-app" : Strategy.Name, _fallback.Name, _window, peakBytes: 0); }
    }

    /// <summary>
    /// Stores version 0 where the functions read it and opens round 1 on its actor, waiting up to
    /// <paramref name="patience"/> for the sidecar and the actors' host.
    /// </summary>
    /// <exception cref="InvalidOperationException">Already started, or the actors hold rounds of an earlier federation (asynchronous serving does not resume).</exception>
    public async Task StartAsync(TimeSpan patience = default, CancellationToken cancellationToken = default)
    {
        lock (Gate)
        {
            if (Started || _opening) throw new InvalidOperationException("The coordinator is already running.");
            _opening = true;
        }
        long since = Time.GetTimestamp();
        while (true)
        {
            try
            {
                if ((await _actors.GetStatusAsync(1, cancellationToken).ConfigureAwait(false)).Known)
                    throw new InvalidOperationException("The rounds' actors hold an earlier federation; asynchronous serving does not resume one. Clear the state stores (or use another Redis database) and start again.");
                break;
            }
            catch (Exception e) when (TransientFailure.Is(e) && !cancellationToken.IsCancellationRequested && Time.GetElapsedTime(since) < patience)
            {
                _logger.LogWarning("The rounds' actors cannot be reached yet ({Problem}); trying again.", e.Message);
                await Task.Delay(OpenRetry, Time, cancellationToken).ConfigureAwait(false);
            }
        }
        var initial = AggregatorStep.ModelReference(0);
        await _store.WriteAllAsync(initial, ModelWeightsFormat.Encode(Model.Weights.Span), cancellationToken).ConfigureAwait(false);
        lock (Gate) _models[0] = initial;
        await OpenAsync(1, initial, Model, cancellationToken).ConfigureAwait(false);
        lock (Gate) Started = true;
    }

    /// <summary>
    /// Where the update <paramref name="arrived"/> (reserved, stored) goes: the event to publish in its
    /// place, an <see cref="UpdateArrived"/> for the leaves or a <see cref="StaleUpdateArrived"/> for
    /// the corrector app (see the class remarks). Changes nothing: <see cref="AsynchronousRouting"/>
    /// calls <see cref="Routed"/> once the event is published, so a failed publication leaves the
    /// reservation for the gateway to give back.
    /// </summary>
    public object Route(UpdateArrived arrived)
    {
        ArgumentNullException.ThrowIfNull(arrived);
        lock (Gate)
        {
            if (!Tasks.TryGetReserved(arrived.ClientId, arrived.TaskId, out var task))
                return arrived; // Not a reservation of this book (a repeated announcement): the actor counts it once.
            var current = Model.Version;
            long staleness = task.BaseVersion.StalenessAt(current);
            var update = arrived with { Round = _round };
            if (staleness == 0) return update;
            if (!_models.TryGetValue(task.BaseVersion.Value, out var baseModel)) return update with { Scale = _fallback.WeightOf(staleness) };
            if (!_corrects || staleness < Asynchronous.CorrectFrom) return update;
            return new StaleUpdateArrived(update, baseModel, _models[current.Value], current.Value);
        }
    }

    /// <summary>Settles the update <paramref name="arrived"/> once <paramref name="routed"/>, what <see cref="Route"/> made of it, is published.</summary>
    public void Routed(UpdateArrived arrived, object routed)
    {
        ArgumentNullException.ThrowIfNull(arrived);
        ArgumentNullException.ThrowIfNull(routed);
        lock (Gate)
        {
            if (!Tasks.TryBeginFold(arrived.ClientId, arrived.TaskId, out var task, out var evaluation)) return;
            Tasks.Settle(task.TaskId);
            if (evaluation is not null) Tally.Evaluated(evaluation);
            switch (routed)
            {
                case StaleUpdateArrived:
                    _correcting.Add(task.TaskId); // Counted when the corrector reports.
                    break;
                case UpdateArrived update:
                    long staleness = task.BaseVersion.StalenessAt(new ModelVersion(update.Round - 1));
                    Tally.Count(arrived.ClientId, staleness == 0 ? StalenessOutcome.Fresh : update.Scale is null ? StalenessOutcome.Weighted : StalenessOutcome.BeyondWindow, staleness);
                    break;
            }
        }
    }

    /// <inheritdoc/>
    public void OnCorrectionReported(CorrectionReported report)
    {
        ArgumentNullException.ThrowIfNull(report);
        lock (Gate)
        {
            if (!_correcting.Remove(report.TaskId)) return; // A repeated report, or one for another federation.
            var outcome = report.Outcome switch
            {
                "corrected" => StalenessOutcome.Corrected,
                "weighted" => StalenessOutcome.Weighted,
                "unchanged" => StalenessOutcome.Unchanged,
                "refused" => StalenessOutcome.Refused,
                _ => StalenessOutcome.FellBack,
            };
            Tally.Count(report.ClientId, outcome, report.Staleness);
            Tally.Corrected(report.CpuSeconds);
        }
    }

    /// <summary>
    /// The gateway's side of <see cref="ModelPublished"/>: the round's version becomes the served model
    /// once the next round is open on its actor (so no update is announced to a round that is not
    /// open); models older than the window are deleted. A repeated or stale delivery changes nothing.
    /// </summary>
    public async ValueTask OnModelPublishedAsync(ModelPublished published, ReadOnlyMemory<float> weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(published);
        GlobalModel model;
        RoundSummary summary;
        lock (Gate)
        {
            if (!Started || Done || Stopped || _opening || published.Round != _round || published.Version.Value != _round)
            {
                _logger.LogInformation("Model {Version} of round {Round} ignored: the gateway is at round {Current}.", published.Version, published.Round, _round);
                return;
            }
            if (weights.Length != Layout.TotalLength)
                throw new InvalidDataException($"Model {published.Version} has {weights.Length} weights; the layout has {Layout.TotalLength}.");
            model = new GlobalModel(Layout, published.Version, weights.Span);
            _models[published.Version.Value] = published.Reference;
            summary = new RoundSummary(published.Round, published.Version, published.Updates, 0, 0, 0, Time.GetElapsedTime(_roundOpened).TotalSeconds, 0,
                ClosedByDeadline: false, Evaluation: Tally.TakeEvaluation(Strategy, published.Round));
            Summaries.Add(summary);
            if (published.Round >= Asynchronous.Versions)
            {
                Switch(model, published.Round);
                Done = true;
                Tasks.ForgetDevices();
            }
            else _opening = true;
        }
        var closed = new RoundClosed(published.Round, published.Version, published.Updates, published.Round >= Asynchronous.Versions);
        if (!closed.Final) _ = OpenNextAsync(published.Round + 1, published.Reference, model, closed);
        else
        {
            await AnnounceAsync(closed, cancellationToken).ConfigureAwait(false);
            CompletionSource.TrySetResult();
        }
        await ForgetOldModelsAsync(published.Version.Value, cancellationToken).ConfigureAwait(false);
    }

    private async Task OpenNextAsync(long round, UpdateReference reference, GlobalModel model, RoundClosed closed)
    {
        try
        {
            await OpenAsync(round, reference, model, _stopping.Token).ConfigureAwait(false);
            await AnnounceAsync(closed, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Round {Round} could not be opened; the federation stops.", round);
            CompletionSource.TrySetException(e);
        }
    }

    /// <summary>Opens <paramref name="round"/> (training from <paramref name="model"/>) on its actor, retrying while the sidecar is unreachable, then serves the model.</summary>
    private async Task OpenAsync(long round, UpdateReference reference, GlobalModel model, CancellationToken cancellationToken)
    {
        int fanIn = Math.Max(2, Math.Min(DaprRoundCoordinator.DefaultFanIn, Asynchronous.BufferSize));
        // The actor's reminder closes a round that never fills (devices gone) with what it has, after a task's lifetime.
        var opening = new RoundOpening(round, Asynchronous.BufferSize, fanIn, (Asynchronous.TaskLifetime + DaprRoundCoordinator.ArrivalGrace).TotalSeconds,
            reference.Key, model.Version.Value, _shapes, Last: round >= Asynchronous.Versions, Strategy: Strategy.Name, Node: _store.OwningNode());
        while (true)
        {
            try
            {
                await _actors.OpenAsync(opening, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && TransientFailure.Is(e))
            {
                _logger.LogWarning(e, "Round {Round} could not be opened on its actor yet; retrying.", round);
                await Task.Delay(OpenRetry, Time, cancellationToken).ConfigureAwait(false);
            }
        }
        lock (Gate)
        {
            Switch(model, round);
            _opening = false;
        }
        _logger.LogInformation("Round {Round} opened on actor {Actor}: {Expected} updates onto model {Version}.", round, RoundActor.IdFor(round), opening.ExpectedUpdates, model.Version);
    }

    /// <summary>Serves <paramref name="model"/> and announces updates to <paramref name="round"/> (gate held).</summary>
    private void Switch(GlobalModel model, long round)
    {
        Serve(model);
        _round = round;
        _roundOpened = Time.GetTimestamp();
    }

    /// <summary>Deletes the models (and their server state) that left the window: the corrector needs no older base.</summary>
    private async Task ForgetOldModelsAsync(long newest, CancellationToken cancellationToken)
    {
        var old = new List<UpdateReference>();
        lock (Gate)
        {
            foreach (var version in _models.Keys.ToArray())
                if (version <= newest - _window)
                {
                    old.Add(_models[version]);
                    _models.Remove(version);
                }
        }
        foreach (var reference in old)
        {
            try
            {
                await _store.DeleteAsync(reference, cancellationToken).ConfigureAwait(false);
                await _store.DeleteAsync(AggregatorStep.ServerStateReference(reference), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (TransientFailure.Is(e))
            {
                _logger.LogWarning(e, "Model {Reference} could not be deleted from the store; it stays there.", reference);
            }
        }
    }

    private async Task AnnounceAsync(RoundClosed closed, CancellationToken cancellationToken)
    {
        if (_announcements is not null) await _announcements.PublishAsync(closed, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The book's check; a stale upload that would go to a corrector with too many waiting is pushed back.</summary>
    /// <inheritdoc/>
    protected override bool PushesBack(long staleness) =>
        _corrects && staleness >= Asynchronous.CorrectFrom && _correcting.Count >= Asynchronous.CorrectionQueueCapacity;

    /// <summary>Stops opening rounds.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (Gate)
        {
            if (Stopped) return;
            Stopped = true;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        CompletionSource.TrySetCanceled();
        _stopping.Dispose();
    }
}
