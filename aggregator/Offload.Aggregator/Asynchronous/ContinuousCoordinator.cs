using Offload.Aggregator.Rounds;
using Offload.Aggregator.Strategies;
using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Aggregator.Asynchronous;

/// <summary>
/// What asynchronous serving does the same wherever updates are folded: the task book handed out
/// from the newest version (<see cref="ContinuousTasks"/>), checks and reservations, the window of
/// versions devices may still download, summaries, and the lifecycle flags. A coordinator adds
/// where folding happens: <see cref="AsynchronousCoordinator"/> in this process, the Dapr
/// deployment's coordinator through the rounds' actors and the functions.
/// </summary>
/// <remarks>
/// Every member that reads or changes state takes <see cref="Gate"/>; a derived class holds it
/// around its own state too, so that a version is published, and tasks are checked against it, in
/// one order.
/// </remarks>
public abstract class ContinuousCoordinator : IRoundCoordinator
{
    private readonly GlobalModel[] _served = new GlobalModel[AsynchronousOptions.ServedVersions];
    private volatile GlobalModel _model;

    /// <summary>Holds <paramref name="initialWeights"/> as version 0, served from the start.</summary>
    /// <param name="layout">The model's tensors.</param>
    /// <param name="initialWeights">Version 0.</param>
    /// <param name="options">The asynchronous settings (validated here).</param>
    /// <param name="strategy">The FedBuff step the rounds name.</param>
    /// <param name="time">The clock tasks expire by.</param>
    /// <exception cref="ArgumentException">The weights do not match the layout or are not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    protected ContinuousCoordinator(TensorLayout layout, ReadOnlySpan<float> initialWeights, AsynchronousOptions options, FedBuff strategy, TimeProvider? time)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(strategy);
        Asynchronous = options.Validate();
        Time = time ?? TimeProvider.System;
        Tasks = new ContinuousTasks(Asynchronous, Time);
        Strategy = strategy;
        _model = new GlobalModel(layout, ModelVersion.Initial, initialWeights);
        _served[0] = _model;
        Options = new RoundOptions
        {
            MinClients = options.BufferSize,
            Rounds = options.Versions,
            RoundDeadline = options.TaskLifetime,
            WaitRetry = options.WaitRetry,
            Plan = options.Plan,
            Strategy = strategy,
        };
    }

    /// <inheritdoc/>
    public TensorLayout Layout => _model.Layout;

    /// <summary>The settings in rounds' terms, for the gateway: a version is a round, K its quorum, FedBuff its strategy.</summary>
    public RoundOptions Options { get; }

    /// <summary>The asynchronous settings.</summary>
    public AsynchronousOptions Asynchronous { get; }

    /// <inheritdoc/>
    public GlobalModel Model => _model;

    /// <inheritdoc/>
    public Task Completion => CompletionSource.Task;

    /// <inheritdoc/>
    public bool Ready
    {
        get { lock (Gate) return Started && !Stopped; }
    }

    /// <summary>Every published version's summary, in order (its round is the version).</summary>
    public IReadOnlyList<RoundSummary> Rounds
    {
        get { lock (Gate) return Summaries.ToArray(); }
    }

    /// <inheritdoc/>
    public CoordinatorStatus Status
    {
        get
        {
            lock (Gate)
            {
                long version = _model.Version.Value;
                return new CoordinatorStatus(Done, Done ? version : version + 1, _model.Version, Asynchronous.Versions, Buffered, Asynchronous.BufferSize, Tally.Folded);
            }
        }
    }

    /// <summary>The FedBuff step every version takes (<see cref="RoundOptions.Strategy"/> of <see cref="Options"/>).</summary>
    protected FedBuff Strategy { get; }

    /// <summary>The lock every change of state is made under.</summary>
    protected object Gate { get; } = new();

    /// <summary>The tasks out, and what became of them.</summary>
    protected ContinuousTasks Tasks { get; }

    /// <summary>What was done with each update, by outcome and device.</summary>
    protected StalenessTally Tally { get; } = new();

    /// <summary>The published versions' summaries.</summary>
    protected List<RoundSummary> Summaries { get; } = [];

    /// <summary>Completes <see cref="Completion"/>.</summary>
    protected TaskCompletionSource CompletionSource { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The clock.</summary>
    protected TimeProvider Time { get; }

    /// <summary>Whether tasks are handed out.</summary>
    protected bool Started { get; set; }

    /// <summary>Whether the coordinator was stopped (disposed): nothing more is accepted.</summary>
    protected bool Stopped { get; set; }

    /// <summary>Whether the last version is published.</summary>
    protected bool Done { get; set; }

    /// <summary>Updates folded into the version being built, as <see cref="Status"/> shows them (under <see cref="Gate"/>).</summary>
    protected virtual int Buffered => 0;

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
        lock (Gate)
        {
            EnsureStarted();
            return Tasks.Offer(clientId, _model.Version, Done);
        }
    }

    /// <inheritdoc/>
    public SubmissionCheck CheckSubmission(string clientId, string taskId, out RoundTask? task)
    {
        lock (Gate)
        {
            EnsureStarted();
            return Check(clientId, taskId, out task);
        }
    }

    /// <summary>
    /// Reserves a place in the federation for the update to <paramref name="taskId"/>, which the caller
    /// then stores and announces. A stale update is pushed back (<see cref="SubmissionCheck.Busy"/>)
    /// while its correction queue is full (<see cref="PushesBack"/>).
    /// </summary>
    public SubmissionCheck TryReserve(string clientId, string taskId, ClientEvaluation? evaluation = null)
    {
        lock (Gate)
        {
            EnsureStarted();
            var check = Check(clientId, taskId, out _);
            if (check == SubmissionCheck.Open) Tasks.Reserve(taskId, evaluation);
            return check;
        }
    }

    /// <inheritdoc/>
    public void CancelReservation(string clientId, string taskId)
    {
        lock (Gate) Tasks.Cancel(clientId, taskId);
    }

    /// <summary>Whether an update <paramref name="staleness"/> versions old is pushed back now, its correction queue being full (under <see cref="Gate"/>).</summary>
    protected abstract bool PushesBack(long staleness);

    /// <summary>Makes <paramref name="model"/> the newest version, and downloadable while it is among the last <see cref="AsynchronousOptions.ServedVersions"/>.</summary>
    protected void Serve(GlobalModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _served[(int)(model.Version.Value % _served.Length)] = model;
        _model = model;
    }

    /// <summary>The check of an upload's header or reservation against the newest version (under <see cref="Gate"/>).</summary>
    protected SubmissionCheck Check(string clientId, string taskId, out RoundTask? task) =>
        Tasks.Check(clientId, taskId, _model.Version, Done || Stopped, PushesBack, out task);

    /// <exception cref="ObjectDisposedException">Stopped.</exception>
    /// <exception cref="InvalidOperationException">Not started.</exception>
    protected void EnsureStarted()
    {
        ObjectDisposedException.ThrowIf(Stopped, this);
        if (!Started) throw new InvalidOperationException("The coordinator has not been started.");
    }
}
