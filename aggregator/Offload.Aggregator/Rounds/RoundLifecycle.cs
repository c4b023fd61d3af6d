using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Offload.Aggregator.Events;
using Offload.Aggregator.Journal;
using Offload.Aggregator.Strategies;
using Offload.Core.Model;

namespace Offload.Aggregator.Rounds;

/// <summary>
/// The round lifecycle both coordinators share, free of any host: the task book
/// (<see cref="RoundTasks"/>, configured each round by the strategy), submission checks,
/// reservations and the quorum, the deadline (a round past it with no update takes another batch of
/// tasks and closes at its first; with updates it closes), the summaries, and the publication of each
/// new model to the broadcast devices download. A coordinator derives from it and adds only where the
/// folding happens: <see cref="SynchronousRoundCoordinator"/> in this process, the Dapr deployment's
/// coordinator through the round's actor and the functions.
/// </summary>
/// <remarks>
/// Every member a derived coordinator calls, and every hook it overrides, runs with <see cref="Gate"/>
/// held, so the lifecycle's state and the coordinator's own change together. Work that must not run
/// under the lock (publishing events, calling a sidecar) is returned to the caller as a follow-up.
/// </remarks>
public abstract class RoundLifecycle : IRoundCoordinator
{
    private readonly List<RoundSummary> _summaries = [];
    private readonly Dictionary<string, ClientEvaluation> _evaluations = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile GlobalModel _model;
    private ModelBroadcast _broadcast;
    private ITimer? _timer;
    private long _roundOpened;
    private long _updatesTotal;

    /// <summary>Holds <paramref name="initialWeights"/> as version 0; the derived coordinator opens round 1.</summary>
    /// <exception cref="ArgumentException">The weights do not match the layout.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <param name="journal">Where each task and closed round is recorded before anyone hears of it (<c>serve --state</c>); null keeps them in memory only.</param>
    protected RoundLifecycle(TensorLayout layout, ReadOnlySpan<float> initialWeights, RoundOptions options, TimeProvider? time, ILogger? logger,
        IFederationJournal? journal = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validate();
        Time = time ?? TimeProvider.System;
        Logger = logger ?? NullLogger.Instance;
        Tasks = new RoundTasks(Options, Time);
        Journal = journal;
        if (journal is not null) Tasks.Issuing = journal.RecordTask;
        _model = new GlobalModel(layout, ModelVersion.Initial, initialWeights);
        _broadcast = new ModelBroadcast(_model, Options.Downstream, Options.DownstreamFedZip);
    }

    /// <summary>The lock every lifecycle change is made under.</summary>
    protected object Gate { get; } = new();

    /// <summary>The clock.</summary>
    protected TimeProvider Time { get; }

    /// <summary>The log.</summary>
    protected ILogger Logger { get; }

    /// <summary>The journal tasks and rounds are recorded in, or null.</summary>
    protected IFederationJournal? Journal { get; }

    /// <summary>The round's tasks.</summary>
    protected RoundTasks Tasks { get; }

    /// <summary>The current round (0 before the first opens).</summary>
    protected long Round { get; private set; }

    /// <summary>Updates reserved in the current round.</summary>
    protected int Reserved { get; private set; }

    /// <summary>Whether the current round takes submissions now.</summary>
    protected bool Accepting { get; set; }

    /// <summary>Whether the current round's deadline has passed.</summary>
    protected bool DeadlinePassed { get; private set; }

    /// <summary>Whether the last round has closed.</summary>
    protected bool Done { get; private set; }

    /// <summary>Whether the rounds have started (tasks may be asked for).</summary>
    protected bool Started { get; set; }

    /// <summary>Whether the coordinator was disposed: nothing changes any more.</summary>
    protected bool Stopped { get; set; }

    /// <summary>When the current round started taking updates (a <see cref="TimeProvider.GetTimestamp"/>).</summary>
    protected long RoundOpened => _roundOpened;

    /// <inheritdoc/>
    public TensorLayout Layout => _model.Layout;

    /// <inheritdoc/>
    public RoundOptions Options { get; }

    /// <summary>The strategy the rounds run.</summary>
    public AggregationStrategy Strategy => Options.Strategy;

    /// <inheritdoc/>
    public GlobalModel Model => _model;

    /// <inheritdoc/>
    public GlobalModel Broadcast => _broadcast.Current;

    /// <inheritdoc/>
    public Task Completion => _completion.Task;

    /// <inheritdoc/>
    public IReadOnlyList<RoundSummary> Rounds
    {
        get { lock (Gate) return _summaries.ToArray(); }
    }

    /// <inheritdoc/>
    public CoordinatorStatus Status
    {
        get
        {
            lock (Gate) return new CoordinatorStatus(Done, Round, _model.Version, Options.Rounds, UpdatesThisRound, Options.MinClients, _updatesTotal + (Done ? 0 : UpdatesThisRound));
        }
    }

    /// <summary>What <see cref="Status"/> counts for the open round: updates folded here, or reserved for the functions.</summary>
    protected abstract int UpdatesThisRound { get; }

    /// <summary>
    /// Work for <paramref name="clientId"/>: the task it already holds in this round if it has not
    /// submitted, else a new one while the round has room, else wait; done after the last round.
    /// </summary>
    /// <exception cref="InvalidOperationException">The rounds have not started.</exception>
    public TaskOffer RequestTask(string clientId)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        lock (Gate)
        {
            EnsureStarted();
            return Tasks.Offer(clientId, Done, Accepting, _model.Version, _roundOpened);
        }
    }

    /// <inheritdoc/>
    public SubmissionCheck CheckSubmission(string clientId, string taskId, out RoundTask? task)
    {
        lock (Gate)
        {
            EnsureStarted();
            return Tasks.Check(clientId, taskId, Done, Accepting, out task);
        }
    }

    /// <summary>
    /// Reserves the round's room for the update to <paramref name="taskId"/>, which the caller then
    /// stores and announces: the round will not close without it. Call it only once the update has
    /// passed every check the gateway makes. The quorum stops the round taking more.
    /// <paramref name="evaluation"/>, the client's score of the task's model, joins the round's federated evaluation.
    /// </summary>
    public SubmissionCheck TryReserve(string clientId, string taskId, ClientEvaluation? evaluation = null)
    {
        Action? then;
        lock (Gate)
        {
            EnsureStarted();
            var check = Tasks.Check(clientId, taskId, Done, Accepting, out _);
            if (check != SubmissionCheck.Open) return check;
            Tasks.Reserve(taskId);
            Reserved++;
            if (evaluation is not null) _evaluations[taskId] = evaluation;
            if (Reserved >= Options.MinClients || DeadlinePassed) Accepting = false;
            then = OnReserved();
        }
        then?.Invoke();
        return SubmissionCheck.Open;
    }

    /// <summary>Gives back a reservation whose update could not be stored or announced.</summary>
    public void CancelReservation(string clientId, string taskId)
    {
        Action? then;
        lock (Gate)
        {
            if (!Tasks.Release(clientId, taskId) || Done || Stopped) return;
            Reserved--;
            _evaluations.Remove(taskId);
            if (Reserved < Options.MinClients && !DeadlinePassed && ReopensOnRelease) Accepting = true;
            then = OnReleased();
        }
        then?.Invoke();
    }

    /// <summary>After a reservation (gate held); returns follow-up work to run once the gate is released, or null.</summary>
    protected abstract Action? OnReserved();

    /// <summary>After a reservation was given back (gate held); follow-up work, or null.</summary>
    protected abstract Action? OnReleased();

    /// <summary>Whether a given-back reservation may reopen the round (false while the coordinator is closing it).</summary>
    protected virtual bool ReopensOnRelease => true;

    /// <summary>At the deadline of a round that has reserved updates (gate held); follow-up work, or null.</summary>
    protected abstract Action? OnDeadline();

    /// <summary>
    /// Starts the book of <paramref name="round"/> (gate held): the strategy configures its tasks, no
    /// reservation, the deadline not passed. Submissions are taken only once <see cref="StartClock"/> runs.
    /// </summary>
    protected void BeginRound(long round)
    {
        Round = round;
        Reserved = 0;
        Accepting = false;
        DeadlinePassed = false;
        _evaluations.Clear();
        Tasks.Open(round, Options.Strategy.Configure(round, Options.Plan));
    }

    /// <summary>Opens <paramref name="round"/> to submissions and starts its deadline (gate held); ignored for a round no longer current.</summary>
    protected void StartClock(long round)
    {
        if (Round != round) return;
        Accepting = true;
        _roundOpened = Time.GetTimestamp();
        _timer?.Dispose();
        _timer = Time.CreateTimer(OnTimer, round, Options.RoundDeadline, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Stops the current round's deadline (gate held).</summary>
    protected void StopClock()
    {
        _timer?.Dispose();
        _timer = null;
    }

    /// <summary>Seconds since the current round started taking updates.</summary>
    protected double RoundSeconds => Time.GetElapsedTime(_roundOpened).TotalSeconds;

    /// <summary>Lets the round take updates again after every reserved one was refused at folding (gate held).</summary>
    protected void Reopen()
    {
        Logger.LogWarning("Round {Round}: all {Count} reserved updates were refused; reopening.", Round, Reserved);
        Reserved = 0;
        Tasks.AllowAnotherBatch();
        Tasks.ForgetHolders();
        Accepting = true;
    }

    /// <summary>
    /// Takes back, after a restart, the reservation of an update acknowledged before it (gate held,
    /// the round's tasks restored): the round will not close without it.
    /// </summary>
    protected void RestoreReservation(string taskId, ClientEvaluation? evaluation)
    {
        Tasks.Reserve(taskId);
        Reserved++;
        if (evaluation is not null) _evaluations[taskId] = evaluation;
        if (Reserved >= Options.MinClients) Accepting = false;
    }

    /// <summary>The strategy's server state as the journal keeps it beside each model; empty where the state is stored elsewhere.</summary>
    protected virtual ReadOnlyMemory<byte> EncodedServerState() => ReadOnlyMemory<byte>.Empty;

    /// <summary>
    /// Makes <paramref name="model"/> the served model (the broadcast first: a device that sees the new
    /// version finds its download), records <paramref name="summary"/>, stops the deadline and, after
    /// the last round, ends the federation (gate held). The caller announces the returned event and
    /// opens the next round unless it is final. With a journal the round's record is queued first:
    /// whatever is recorded after it is durable only once it is, and if it cannot be kept the
    /// federation fails (a restart folds the round again from its journaled updates).
    /// </summary>
    protected RoundClosed PublishRound(GlobalModel model, RoundSummary summary)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(summary);
        if (_evaluations.Count > 0) summary = summary with { Evaluation = Strategy.Evaluate(Round, [.. _evaluations.Values]) };
        if (Journal is { } journal)
        {
            long round = Round;
            journal.RecordRound(new RecordedRound(summary, model.Weights, EncodedServerState())).ContinueWith(t =>
            {
                Logger.LogCritical(t.Exception, "Round {Round} could not be recorded; the federation stops. Its acknowledged updates are kept and are folded again on restart.", round);
                lock (Gate)
                {
                    Stopped = true;
                    StopClock();
                }
                Fail(t.Exception!.InnerException!);
            }, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
        _broadcast.Publish(model);
        _model = model;
        _summaries.Add(summary);
        _updatesTotal += summary.Updates;
        var closed = new RoundClosed(Round, model.Version, summary.Updates, Round >= Options.Rounds);
        Logger.LogInformation("Round {Round} closed with {Updates} updates ({Reason}); model {Version}.", Round, summary.Updates,
            summary.ClosedByDeadline ? "deadline" : "quorum", model.Version);
        Accepting = false;
        StopClock();
        if (closed.Final)
        {
            Done = true;
            Tasks.ForgetHolders();
        }
        return closed;
    }

    /// <summary>
    /// Resumes from a model published before a restart (gate held): it becomes the served model at
    /// <paramref name="round"/>, and when <paramref name="finished"/> the federation is already done;
    /// <paramref name="history"/> are the summaries of the rounds closed before, if they were kept.
    /// </summary>
    protected void Resume(GlobalModel model, long round, bool finished, IEnumerable<RoundSummary>? history = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (history is not null)
            foreach (var summary in history)
            {
                _summaries.Add(summary);
                _updatesTotal += summary.Updates;
            }
        _model = model;
        _broadcast = new ModelBroadcast(model, Options.Downstream, Options.DownstreamFedZip);
        Round = round;
        if (finished)
        {
            Done = true;
            _completion.TrySetResult();
        }
    }

    /// <summary>Ends the federation's wait: after the last round's announcement.</summary>
    protected void Complete() => _completion.TrySetResult();

    /// <summary>Ends the federation's wait with a failure the rounds cannot get past.</summary>
    protected void Fail(Exception failure) => _completion.TrySetException(failure);

    /// <summary>Ends the federation's wait as cancelled (disposal).</summary>
    protected void Cancel() => _completion.TrySetCanceled();

    private void OnTimer(object? state)
    {
        Action? then = null;
        lock (Gate)
        {
            if (Done || Stopped || !Started || (long)state! != Round) return;
            DeadlinePassed = true;
            if (Reserved == 0)
            {
                // Nothing to aggregate yet: the round stays open and closes at its first update;
                // meanwhile another batch of tasks may go to clients that are still around.
                Tasks.AllowAnotherBatch();
                Logger.LogInformation("Round {Round} reached its deadline with no update; it closes at the first.", Round);
                return;
            }
            Accepting = false;
            then = OnDeadline();
        }
        then?.Invoke();
    }

    private void EnsureStarted()
    {
        ObjectDisposedException.ThrowIf(Stopped, this);
        if (!Started) throw new InvalidOperationException("The coordinator has not been started.");
    }
}
