using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Offload.Aggregator.Events;
using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Model;
using Offload.Core.Codec;

namespace Offload.Aggregator.Rounds;

/// <summary>
/// Synchronous federated rounds driven by events, free of any host: hands out up to
/// <see cref="RoundOptions.TasksPerRound"/> tasks per round, folds each <see cref="UpdateArrived"/>
/// into the round's <see cref="AggregationTree"/> as it arrives (eager aggregation for a
/// sum-decomposable strategy: memory stays at a few model copies however many updates come; a robust
/// strategy keeps each leaf's updates), and closes the round when
/// <see cref="RoundOptions.MinClients"/> updates are in, or at the deadline if at least one is. It
/// then applies the strategy's step, publishes a new <see cref="GlobalModel"/> and a
/// <see cref="RoundClosed"/> event, and opens the next round. What devices download and train from is
/// <see cref="Broadcast"/> (<see cref="ModelBroadcast"/>): the model itself, or with FedZip downstream the
/// clients' view and its encoded change; updates always apply to the true model, <see cref="Model"/>.
/// </summary>
/// <remarks>
/// Exactly once: a gateway calls <see cref="TryReserve"/> before it acknowledges an update, and a
/// round that has reservations does not close before every reserved update has been folded, so an
/// acknowledged update is never lost to a closing round and never folded twice. Updates fold in
/// arrival order; FedAvg's sum is order-independent up to float rounding.
/// All public members are thread-safe. Folding runs on the event bus's delivery of
/// <see cref="UpdateArrived"/>, one event at a time.
/// </remarks>
public sealed class SynchronousRoundCoordinator : IRoundCoordinator, IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly RoundOptions _options;
    private readonly AggregationStrategy _strategy;
    private ServerState _serverState;
    private readonly IUpdateStore _store;
    private readonly IEventBus _bus;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private AggregationTree? _tree;
    private readonly RoundTasks _tasks;
    private readonly List<RoundSummary> _summaries = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile GlobalModel _model;
    private readonly ModelBroadcast _broadcast;
    private IAsyncDisposable? _subscription;
    private ITimer? _timer;
    private long _round;
    private int _reserved;
    private int _pending;
    private int _folded;
    private int _rejected;
    private long _samples;
    private long _payloadBytes;
    private long _aggregateTicks;
    private long _foldedTotal;
    private long _roundOpened;
    private bool _accepting;
    private bool _deadlinePassed;
    private bool _done;
    private bool _disposed;

    /// <summary>Creates a coordinator holding <paramref name="initialWeights"/> as version 0; <see cref="Start"/> opens round 1.</summary>
    /// <exception cref="ArgumentException">The weights do not match the layout.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public SynchronousRoundCoordinator(TensorLayout layout, ReadOnlySpan<float> initialWeights, RoundOptions options,
        IUpdateStore store, IEventBus bus, TimeProvider? time = null, ILogger<SynchronousRoundCoordinator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(bus);
        _options = options.Validate();
        _strategy = _options.Strategy;
        _store = store;
        _bus = bus;
        _time = time ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _model = new GlobalModel(layout, ModelVersion.Initial, initialWeights);
        _broadcast = new ModelBroadcast(_model, _options.Downstream, _options.DownstreamFedZip);
        _serverState = _strategy.InitialState();
        _tasks = new RoundTasks(_options, _time);
    }

    /// <summary>The model's parameter layout.</summary>
    public TensorLayout Layout => _model.Layout;

    /// <summary>The settings.</summary>
    public RoundOptions Options => _options;

    /// <summary>The current global model.</summary>
    public GlobalModel Model => _model;

    /// <summary>The model devices download and train from (the clients' view with FedZip downstream).</summary>
    public GlobalModel Broadcast => _broadcast.Current;

    /// <summary>The strategy the rounds aggregate with.</summary>
    public AggregationStrategy Strategy => _strategy;

    /// <summary>A copy of the strategy's server state after the last closed round.</summary>
    public ServerState ServerState
    {
        get { lock (_gate) return _serverState.Clone(); }
    }

    /// <summary>Completes when the last round has closed.</summary>
    public Task Completion => _completion.Task;

    /// <summary>The rounds closed so far, in order.</summary>
    public IReadOnlyList<RoundSummary> Rounds
    {
        get { lock (_gate) return _summaries.ToArray(); }
    }

    /// <summary>Where the rounds stand.</summary>
    public CoordinatorStatus Status
    {
        get
        {
            lock (_gate) return new CoordinatorStatus(_done, _round, _model.Version, _options.Rounds, _folded, _options.MinClients, _foldedTotal + (_done ? 0 : _folded));
        }
    }

    /// <summary>Subscribes to <see cref="UpdateArrived"/> and opens round 1.</summary>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_subscription is not null) throw new InvalidOperationException("The coordinator is already running.");
            _subscription = _bus.Subscribe<UpdateArrived>(OnUpdateArrivedAsync);
            OpenRound(1);
        }
    }

    /// <summary>
    /// Work for <paramref name="clientId"/>: the task it already holds in this round if it has not
    /// submitted, else a new one while the round has room, else wait; done after the last round.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="Start"/> has not been called.</exception>
    public TaskOffer RequestTask(string clientId)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        lock (_gate)
        {
            EnsureStarted();
            return _tasks.Offer(clientId, _done, _accepting, _model.Version, _roundOpened);
        }
    }

    /// <summary>Whether <paramref name="clientId"/> may submit for <paramref name="taskId"/> now; changes nothing.</summary>
    public SubmissionCheck CheckSubmission(string clientId, string taskId, out RoundTask? task)
    {
        lock (_gate) return Check(clientId, taskId, out task);
    }

    /// <summary>
    /// Reserves the round's room for the update to <paramref name="taskId"/>, which the caller then
    /// stores and announces with <see cref="UpdateArrived"/>: the round will not close before folding it.
    /// Call it only once the update has passed every check the gateway makes.
    /// </summary>
    public SubmissionCheck TryReserve(string clientId, string taskId)
    {
        lock (_gate)
        {
            var check = Check(clientId, taskId, out _);
            if (check != SubmissionCheck.Open) return check;
            _tasks.Reserve(taskId);
            _pending++;
            _reserved++;
            if (_reserved >= _options.MinClients || _deadlinePassed) _accepting = false;
            return check;
        }
    }

    /// <summary>Gives back a reservation whose update could not be stored or announced.</summary>
    public void CancelReservation(string clientId, string taskId)
    {
        RoundClosed? closed;
        lock (_gate)
        {
            if (!_tasks.Release(clientId, taskId) || _done) return;
            _pending--;
            _reserved--;
            if (_reserved < _options.MinClients && !_deadlinePassed) _accepting = true;
            closed = MaybeClose();
        }
        Announce(closed);
    }

    private SubmissionCheck Check(string clientId, string taskId, out RoundTask? task)
    {
        EnsureStarted();
        return _tasks.Check(clientId, taskId, _done, _accepting, out task);
    }

    private async ValueTask OnUpdateArrivedAsync(UpdateArrived arrived, CancellationToken cancellationToken)
    {
        bool expected;
        lock (_gate) expected = !_done && _tasks.AwaitsFolding(arrived.ClientId, arrived.TaskId);
        if (!expected)
        {
            _logger.LogWarning("Ignoring update {Reference}: no reservation for it in round {Round}.", arrived.Reference, _round);
            await _store.DeleteAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
            return;
        }

        long start = Stopwatch.GetTimestamp();
        byte[]? buffer = null;
        RoundClosed? closed;
        try
        {
            int length = await ReadAsync(arrived, cancellationToken, b => buffer = b).ConfigureAwait(false);
            lock (_gate)
            {
                if (length >= 0)
                {
                    try
                    {
                        // Fused decode and weighted add straight into the round's sum.
                        var payload = buffer.AsSpan(0, length);
                        double weight = _strategy.WeightOf(new UpdateReceipt(arrived.SampleCount, arrived.BaseVersion, _model.Version));
                        if (_tree!.FoldEncoded(_folded, arrived.Reference.Key, UpdatePayload.CodecFor(payload), payload, weight) != FoldOutcome.Folded)
                            throw new ArgumentException($"The round's tree (planned for {_tree.Plan.ExpectedUpdates} updates) has no place for update {_folded + 1}.");
                        _folded++;
                        _samples += arrived.SampleCount;
                        _payloadBytes += arrived.PayloadBytes;
                    }
                    catch (Exception e) when (e is InvalidPayloadException or ArgumentException)
                    {
                        _logger.LogWarning(e, "Update {Reference} could not be decoded and was left out.", arrived.Reference);
                        _rejected++;
                    }
                }
                else _rejected++;
                _tasks.MarkFolded(arrived.TaskId);
                _pending--;
                _aggregateTicks += Stopwatch.GetTimestamp() - start;
                closed = MaybeClose();
            }
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
        await _store.DeleteAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
        Announce(closed);
    }

    /// <summary>Reads a stored payload into a pooled buffer (handed to <paramref name="rented"/>); its length, or -1 when it is missing or not the size announced.</summary>
    private async ValueTask<int> ReadAsync(UpdateArrived arrived, CancellationToken cancellationToken, Action<byte[]> rented)
    {
        try
        {
            await using var stream = await _store.OpenReadAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
            if (stream.Length != arrived.PayloadBytes || stream.Length > int.MaxValue)
            {
                _logger.LogWarning("Update {Reference} holds {Length} bytes; {Announced} were announced.", arrived.Reference, stream.Length, arrived.PayloadBytes);
                return -1;
            }
            int length = (int)stream.Length;
            var buffer = ArrayPool<byte>.Shared.Rent(length);
            rented(buffer);
            await stream.ReadExactlyAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            return length;
        }
        catch (Exception e) when (e is UpdateNotFoundException or EndOfStreamException)
        {
            _logger.LogWarning(e, "Update {Reference} could not be read and was left out.", arrived.Reference);
            return -1;
        }
    }

    private void OnDeadline(object? state)
    {
        RoundClosed? closed = null;
        lock (_gate)
        {
            if (_disposed || _done || (long)state! != _round) return;
            _deadlinePassed = true;
            if (_reserved == 0)
            {
                // Nothing to aggregate yet: the round stays open and closes at its first update;
                // meanwhile another batch of tasks may go to clients that are still around.
                _tasks.AllowAnotherBatch();
                _logger.LogInformation("Round {Round} reached its deadline with no update; it closes at the first.", _round);
            }
            else
            {
                _accepting = false;
                closed = MaybeClose();
            }
        }
        Announce(closed);
    }

    /// <summary>Closes the round if its updates are all in; call with the gate held.</summary>
    private RoundClosed? MaybeClose()
    {
        if (_pending > 0) return null;
        bool quorum = _reserved >= _options.MinClients;
        if (!quorum && !(_deadlinePassed && _reserved > 0)) return null;
        if (_folded == 0)
        {
            // Every reserved update was rejected at folding: take updates again.
            _logger.LogWarning("Round {Round}: all {Count} reserved updates were rejected; reopening.", _round, _reserved);
            _reserved = 0;
            _rejected = 0;
            _tasks.AllowAnotherBatch();
            _tasks.ForgetHolders();
            _accepting = true;
            return null;
        }
        return Close(byDeadline: !quorum);
    }

    private RoundClosed Close(bool byDeadline)
    {
        long start = Stopwatch.GetTimestamp();
        var weights = _model.Weights.ToArray();
        // Emits every open aggregator bottom-up (all of them at a deadline), then the top takes the server step.
        var step = _tree!.Publish(_strategy, weights, _serverState);
        _tree.Dispose();
        _tree = null;
        var version = _model.Version.Next();
        var model = new GlobalModel(Layout, version, weights);
        // The broadcast first: a device that sees the new version (GetStatus reads Model) finds its download.
        _broadcast.Publish(model);
        _model = model;
        _aggregateTicks += Stopwatch.GetTimestamp() - start;
        _summaries.Add(new RoundSummary(_round, version, _folded, _rejected, _samples, _payloadBytes,
            _time.GetElapsedTime(_roundOpened).TotalSeconds, Stopwatch.GetElapsedTime(0, _aggregateTicks).TotalSeconds, byDeadline, step));
        _foldedTotal += _folded;
        var closed = new RoundClosed(_round, version, _folded, _round >= _options.Rounds);
        _logger.LogInformation("Round {Round} closed with {Updates} updates ({Reason}); model {Version}.", _round, _folded, byDeadline ? "deadline" : "quorum", version);
        _timer?.Dispose();
        _timer = null;
        if (closed.Final)
        {
            _done = true;
            _accepting = false;
            _tasks.ForgetHolders();
        }
        else OpenRound(_round + 1);
        return closed;
    }

    private void OpenRound(long round)
    {
        _round = round;
        _reserved = _pending = _folded = _rejected = 0;
        _samples = _payloadBytes = _aggregateTicks = 0;
        _accepting = true;
        _deadlinePassed = false;
        _tasks.Open(round, _strategy.Configure(round, _options.Plan));
        _tree?.Dispose();
        _tree = new AggregationTree(Layout, _options.HierarchyFanIn > 0
            ? TreePlanner.Plan(_options.MinClients, _options.HierarchyFanIn)
            : TreePlanner.Flat(_options.MinClients), round, _strategy);
        _roundOpened = _time.GetTimestamp();
        _timer?.Dispose();
        _timer = _time.CreateTimer(OnDeadline, round, _options.RoundDeadline, Timeout.InfiniteTimeSpan);
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
            _logger.LogDebug(e, "RoundClosed for round {Round} was not published: the bus is stopping.", closed.Round);
        }
        if (closed.Final) _completion.TrySetResult();
    }

    private void EnsureStarted()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_subscription is null) throw new InvalidOperationException("The coordinator has not been started.");
    }

    /// <summary>Stops listening for updates and releases the accumulator.</summary>
    public async ValueTask DisposeAsync()
    {
        IAsyncDisposable? subscription;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            subscription = _subscription;
            _timer?.Dispose();
        }
        if (subscription is not null) await subscription.DisposeAsync().ConfigureAwait(false);
        lock (_gate)
        {
            _tree?.Dispose();
            _tree = null;
        }
        _completion.TrySetCanceled();
    }
}
