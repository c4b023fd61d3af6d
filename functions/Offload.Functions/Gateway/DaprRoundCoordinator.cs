using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Core.Model;
using Offload.Functions.Aggregation;
using Offload.Functions.Rounds;
using Offload.Functions.Storage;

namespace Offload.Functions.Gateway;

/// <summary>
/// The gateway's rounds in the Dapr deployment: it hands out tasks and reserves updates exactly as
/// <see cref="SynchronousRoundCoordinator"/> does, but aggregates nothing itself. Each round is
/// opened on its <see cref="RoundActor"/> (expected updates, tree bound, the stored model); the
/// gateway publishes <see cref="UpdateArrived"/> over Dapr, the leaf, middle and top functions fold
/// them, and the next round opens when <see cref="ModelPublished"/> reaches
/// <see cref="OnModelPublishedAsync"/> (the gateway's subscription).
/// </summary>
/// <remarks>
/// Exactly once: an acknowledged update was reserved here, so when the deadline comes before the
/// quorum, the round is closed on the actor only once the actor has registered as many arrivals as
/// were reserved (or after <see cref="ArrivalGrace"/>, when a reserved update was refused by the
/// leaf, e.g. an undecodable body). The actor's own deadline reminder is set
/// <see cref="ArrivalGrace"/> later, as the safety net if this gateway is gone. Task bookkeeping
/// lives in this process: run one gateway replica per federation.
/// </remarks>
public sealed class DaprRoundCoordinator : IRoundCoordinator, IModelPublishedObserver, IAsyncDisposable
{
    /// <summary>Fan-in bound of the functions' tree when <see cref="RoundOptions.HierarchyFanIn"/> is 0 (flat in process).</summary>
    public const int DefaultFanIn = 32;

    /// <summary>How long a closing round waits for reserved updates to reach the actor.</summary>
    public static readonly TimeSpan ArrivalGrace = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ArrivalPoll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan OpenRetry = TimeSpan.FromSeconds(1);

    private readonly object _gate = new();
    private readonly RoundOptions _options;
    private readonly RoundActors _actors;
    private readonly IUpdateStore _store;
    private readonly IEventBus? _announcements;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TensorShape[] _shapes;
    private readonly RoundTasks _tasks;
    private readonly List<RoundSummary> _summaries = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private volatile GlobalModel _model;
    private ModelBroadcast _broadcast;
    private UpdateReference _modelReference;
    private ITimer? _timer;
    private long _round;
    private long _roundOpened;
    private int _reserved;
    private bool _accepting;
    private bool _deadlinePassed;
    private bool _closing;
    private bool _done;
    private bool _started;
    private long _updatesTotal;

    /// <summary>Creates a coordinator holding <paramref name="initialWeights"/> as version 0; <see cref="StartAsync"/> opens round 1.</summary>
    /// <param name="layout">The model's tensors.</param>
    /// <param name="initialWeights">Version 0.</param>
    /// <param name="options">Round settings; <see cref="RoundOptions.HierarchyFanIn"/> bounds the functions' tree.</param>
    /// <param name="actors">Calls the rounds' actors through the sidecar.</param>
    /// <param name="store">The store the functions share (the model of each round is put there).</param>
    /// <param name="announcements">Gets a <see cref="RoundClosed"/> per round (reporting); optional.</param>
    /// <param name="time">The clock (tests).</param>
    /// <param name="logger">Logs round changes.</param>
    public DaprRoundCoordinator(TensorLayout layout, ReadOnlySpan<float> initialWeights, RoundOptions options, RoundActors actors, IUpdateStore store,
        IEventBus? announcements = null, TimeProvider? time = null, ILogger<DaprRoundCoordinator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(actors);
        ArgumentNullException.ThrowIfNull(store);
        _options = options.Validate();
        _actors = actors;
        _store = store;
        _announcements = announcements;
        _time = time ?? TimeProvider.System;
        _tasks = new RoundTasks(_options, _time);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _shapes = TensorShape.Of(layout);
        _model = new GlobalModel(layout, ModelVersion.Initial, initialWeights);
        _broadcast = new ModelBroadcast(_model, _options.Downstream, _options.DownstreamFedZip);
        _modelReference = AggregatorStep.ModelReference(0);
    }

    /// <inheritdoc/>
    public TensorLayout Layout => _model.Layout;

    /// <inheritdoc/>
    public RoundOptions Options => _options;

    /// <inheritdoc/>
    public GlobalModel Model => _model;

    /// <inheritdoc/>
    public GlobalModel Broadcast => _broadcast.Current;

    /// <summary>Completes when the last round's model has been published.</summary>
    public Task Completion => _completion.Task;

    /// <summary>The rounds closed so far, in order.</summary>
    public IReadOnlyList<RoundSummary> Rounds
    {
        get { lock (_gate) return _summaries.ToArray(); }
    }

    /// <inheritdoc/>
    public CoordinatorStatus Status
    {
        get
        {
            lock (_gate) return new CoordinatorStatus(_done, _round, _model.Version, _options.Rounds, _reserved, _options.MinClients, _updatesTotal);
        }
    }

    /// <summary>
    /// Opens round 1 on its actor after storing model version 0 where the functions read it; or,
    /// when the rounds' actors show this federation already ran (the gateway restarted), resumes it:
    /// from the newest round's published model (opening the next round, or done after the last), or
    /// in the newest round itself if it has not published yet. The initial weights then go unused.
    /// </summary>
    /// <param name="patience">
    /// How long to keep trying while the sidecar or the actors' host cannot be reached yet (the apps of
    /// a deployment start in any order); a transient failure after that is thrown. Zero: no waiting.
    /// </param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    /// <exception cref="InvalidDataException">The stored model to resume from does not fit the layout.</exception>
    public async Task StartAsync(TimeSpan patience = default, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_started) throw new InvalidOperationException("The coordinator is already running.");
            _started = true;
        }
        long waitingSince = _time.GetTimestamp();
        long newest;
        while (true)
        {
            try
            {
                newest = await NewestRoundAsync(cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (Aggregation.TransientFailure.Is(e) && !cancellationToken.IsCancellationRequested && _time.GetElapsedTime(waitingSince) < patience)
            {
                _logger.LogWarning("The rounds' actors cannot be reached yet ({Problem}); trying again.", e.Message);
                await Task.Delay(OpenRetry, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        if (newest == 0)
        {
            if (await _store.GetLengthAsync(_modelReference, cancellationToken).ConfigureAwait(false) < 0)
                await _store.WriteAllAsync(_modelReference, ModelWeightsFormat.Encode(_model.Weights.Span), cancellationToken).ConfigureAwait(false);
            await OpenAsync(1, cancellationToken).ConfigureAwait(false);
            return;
        }
        var status = await _actors.GetStatusAsync(newest, cancellationToken).ConfigureAwait(false);
        if (status.Layout is null || !TensorShape.ToLayout(status.Layout).Equals(Layout))
            throw new InvalidDataException($"The federation in the state store (round {newest}) trains another model than this gateway's ({Layout}); clear the store or use its model.");
        bool published = status is { Published: true, PublishedReference: not null, PublishedVersion: not null };
        var reference = new UpdateReference(published ? status.PublishedReference! : status.ModelReference!);
        long version = published ? status.PublishedVersion!.Value : status.ModelVersion;
        var weights = ModelWeightsFormat.Decode(await _store.ReadAllAsync(reference, cancellationToken).ConfigureAwait(false), Layout.TotalLength);
        lock (_gate)
        {
            _model = new GlobalModel(Layout, new ModelVersion(version), weights);
            _modelReference = reference;
            _broadcast = new ModelBroadcast(_model, _options.Downstream, _options.DownstreamFedZip);
            _round = newest;
            if (published && (newest >= _options.Rounds || status.Last))
            {
                _done = true;
                _completion.TrySetResult();
            }
        }
        _logger.LogWarning("Resumed the federation at round {Round} from model {Version} ({State}).", newest, version,
            published ? "published" : "in progress");
        if (!_done) await OpenAsync(published ? newest + 1 : newest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The newest round whose actor was opened, 0 if none: rounds open one after another, so it is found by doubling, then halving.</summary>
    private async Task<long> NewestRoundAsync(CancellationToken cancellationToken)
    {
        async Task<bool> Opened(long round) => (await _actors.GetStatusAsync(round, cancellationToken).ConfigureAwait(false)).Known;
        if (!await Opened(1).ConfigureAwait(false)) return 0;
        long known = 1, unknown = 2;
        while (await Opened(unknown).ConfigureAwait(false))
        {
            known = unknown;
            unknown *= 2;
        }
        while (unknown - known > 1)
        {
            long middle = known + (unknown - known) / 2;
            if (await Opened(middle).ConfigureAwait(false)) known = middle;
            else unknown = middle;
        }
        return known;
    }

    /// <inheritdoc/>
    public TaskOffer RequestTask(string clientId)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        lock (_gate)
        {
            EnsureStarted();
            return _tasks.Offer(clientId, _done, _accepting, _model.Version, _roundOpened);
        }
    }

    /// <inheritdoc/>
    public SubmissionCheck CheckSubmission(string clientId, string taskId, out RoundTask? task)
    {
        lock (_gate) return Check(clientId, taskId, out task);
    }

    /// <inheritdoc/>
    public SubmissionCheck TryReserve(string clientId, string taskId)
    {
        bool close;
        long round;
        lock (_gate)
        {
            var check = Check(clientId, taskId, out _);
            if (check != SubmissionCheck.Open) return check;
            _tasks.Reserve(taskId);
            _reserved++;
            if (_reserved >= _options.MinClients) _accepting = false; // The actor completes the tree at the quorum.
            close = _deadlinePassed && BeginClosing();
            round = _round;
        }
        if (close) _ = CloseWhenArrivedAsync(round);
        return SubmissionCheck.Open;
    }

    /// <inheritdoc/>
    public void CancelReservation(string clientId, string taskId)
    {
        lock (_gate)
        {
            if (!_tasks.Release(clientId, taskId) || _done) return;
            _reserved--;
            if (!_deadlinePassed && !_closing && _reserved < _options.MinClients) _accepting = true;
        }
    }

    /// <summary>
    /// The gateway's side of <see cref="ModelPublished"/>: the current round's model becomes the
    /// served model and the next round opens. A repeated or stale delivery changes nothing.
    /// </summary>
    public async ValueTask OnModelPublishedAsync(ModelPublished published, ReadOnlyMemory<float> weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(published);
        RoundClosed closed;
        UpdateReference previous;
        lock (_gate)
        {
            if (!_started || _done || published.Round != _round || published.Version.Value <= _model.Version.Value)
            {
                _logger.LogInformation("Model {Version} of round {Round} ignored: the gateway is at round {Current}.", published.Version, published.Round, _round);
                return;
            }
            if (weights.Length != Layout.TotalLength)
                throw new InvalidDataException($"Model {published.Version} has {weights.Length} weights; the layout has {Layout.TotalLength}.");
            var model = new GlobalModel(Layout, published.Version, weights.Span);
            // Devices download the broadcast (with FedZip downstream, the clients' view and its change).
            _broadcast.Publish(model);
            _model = model;
            previous = _modelReference;
            _modelReference = published.Reference;
            // Updates carried over from the round before count here; reserved ones missing were refused by the leaf.
            _summaries.Add(new RoundSummary(_round, published.Version, published.Updates, Math.Max(0, _reserved - published.Updates), 0, 0,
                _time.GetElapsedTime(_roundOpened).TotalSeconds, 0, _deadlinePassed));
            _updatesTotal += published.Updates;
            closed = new RoundClosed(_round, published.Version, published.Updates, _round >= _options.Rounds);
            _accepting = false;
            _timer?.Dispose();
            _timer = null;
            if (closed.Final)
            {
                _done = true;
                _tasks.ForgetHolders();
            }
        }
        _logger.LogInformation("Round {Round} published model {Version} from {Updates} updates.", closed.Round, closed.Version, closed.Updates);
        if (_announcements is not null) await _announcements.PublishAsync(closed, cancellationToken).ConfigureAwait(false);
        await ForgetModelAsync(previous, cancellationToken).ConfigureAwait(false);
        if (closed.Final) _completion.TrySetResult();
        else _ = OpenAsync(closed.Round + 1, _stopping.Token);
    }

    /// <summary>
    /// Deletes the model the closed round trained from: the top has applied the round's mean to it,
    /// devices download from this gateway's memory, and a restart resumes from the newest model, so
    /// nothing reads it again (a straggling second top attempt stands down when it finds it gone).
    /// Without this the state store would keep one model per round for ever.
    /// </summary>
    private async Task ForgetModelAsync(UpdateReference model, CancellationToken cancellationToken)
    {
        try
        {
            await _store.DeleteAsync(model, cancellationToken).ConfigureAwait(false);
            await _store.DeleteAsync(AggregatorStep.ServerStateReference(model), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Aggregation.TransientFailure.Is(e))
        {
            _logger.LogWarning(e, "Model {Reference} could not be deleted from the store; it stays there.", model);
        }
    }

    /// <summary>Opens <paramref name="round"/> on its actor, retrying while the sidecar is unreachable; tasks are handed out once it is open.</summary>
    private async Task OpenAsync(long round, CancellationToken cancellationToken)
    {
        RoundOpening opening;
        lock (_gate)
        {
            _round = round;
            _reserved = 0;
            _accepting = _deadlinePassed = _closing = false;
            _tasks.Open(round, _options.Strategy.Configure(round, _options.Plan));
            int fanIn = _options.HierarchyFanIn > 0 ? _options.HierarchyFanIn : DefaultFanIn;
            opening = new RoundOpening(round, _options.MinClients, fanIn, (_options.RoundDeadline + ArrivalGrace).TotalSeconds,
                _modelReference.Key, _model.Version.Value, _shapes, Last: round >= _options.Rounds, Strategy: _options.Strategy.Name);
        }
        while (true)
        {
            try
            {
                await _actors.OpenAsync(opening, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && Aggregation.TransientFailure.Is(e))
            {
                _logger.LogWarning(e, "Round {Round} could not be opened on its actor yet; retrying.", round);
                await Task.Delay(OpenRetry, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                _logger.LogError(e, "Round {Round} could not be opened on its actor; the federation stops.", round);
                _completion.TrySetException(e);
                return;
            }
        }
        lock (_gate)
        {
            if (_round != round) return;
            _accepting = true;
            _roundOpened = _time.GetTimestamp();
            _timer?.Dispose();
            _timer = _time.CreateTimer(OnDeadline, round, _options.RoundDeadline, Timeout.InfiniteTimeSpan);
        }
        _logger.LogInformation("Round {Round} opened on actor {Actor}: {Expected} updates from model {Version}.", round, RoundActor.IdFor(round), opening.ExpectedUpdates, opening.ModelVersion);
    }

    private void OnDeadline(object? state)
    {
        bool close;
        lock (_gate)
        {
            if (_done || (long)state! != _round) return;
            _deadlinePassed = true;
            if (_reserved == 0)
            {
                // Nothing to aggregate yet: the round closes at its first update, and another batch of tasks may go out.
                _tasks.AllowAnotherBatch();
                _logger.LogInformation("Round {Round} reached its deadline with no update; it closes at the first.", _round);
                return;
            }
            close = BeginClosing();
        }
        if (close) _ = CloseWhenArrivedAsync((long)state!);
    }

    /// <summary>Stops taking updates; true when the caller must start closing (once per round, never at the quorum, which the actor handles).</summary>
    private bool BeginClosing()
    {
        _accepting = false;
        if (_closing || _reserved >= _options.MinClients) return false;
        _closing = true;
        return true;
    }

    /// <summary>Closes the round on its actor once every reserved update has reached it, or after <see cref="ArrivalGrace"/>.</summary>
    private async Task CloseWhenArrivedAsync(long round)
    {
        var token = _stopping.Token;
        long start = _time.GetTimestamp();
        try
        {
            while (true)
            {
                int reserved;
                lock (_gate)
                {
                    if (_round != round || _done) return;
                    reserved = _reserved;
                }
                var status = await _actors.GetStatusAsync(round, token).ConfigureAwait(false);
                if (status.Published || status.DeadlinePassed) return;
                if (status.Arrivals >= reserved) break;
                if (_time.GetElapsedTime(start) >= ArrivalGrace)
                {
                    _logger.LogWarning("Round {Round}: {Arrivals} of {Reserved} reserved updates reached the actor in {Grace}; closing without the rest.",
                        round, status.Arrivals, reserved, ArrivalGrace);
                    break;
                }
                await Task.Delay(ArrivalPoll, _time, token).ConfigureAwait(false);
            }
            await _actors.CloseAsync(round, token).ConfigureAwait(false);
            _logger.LogInformation("Round {Round} closed at its deadline.", round);
        }
        catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
        {
            // The actor's own deadline reminder closes the round instead.
            _logger.LogWarning(e, "Round {Round} could not be closed from the gateway; the actor's reminder will close it.", round);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private SubmissionCheck Check(string clientId, string taskId, out RoundTask? task)
    {
        EnsureStarted();
        return _tasks.Check(clientId, taskId, _done, _accepting, out task);
    }

    private void EnsureStarted()
    {
        if (!_started) throw new InvalidOperationException("The coordinator has not been started.");
    }

    /// <summary>Stops the deadline timer and any closing in progress.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        lock (_gate)
        {
            _timer?.Dispose();
            _timer = null;
        }
        _completion.TrySetCanceled();
        _stopping.Dispose();
    }
}
