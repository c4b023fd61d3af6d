using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Rounds;

/// <summary>
/// Synchronous federated rounds aggregated in this process, driven by events: the shared
/// <see cref="RoundLifecycle"/> hands out tasks and reserves updates; each <see cref="UpdateArrived"/>
/// is folded into the round's <see cref="AggregationTree"/> as it arrives (eager aggregation for a
/// sum-decomposable strategy: memory stays at a few model copies however many updates come; a robust
/// strategy keeps each leaf's updates). When every reserved update of a round that reached its
/// quorum, or its deadline with at least one update, is folded, the strategy's server step makes the
/// next <see cref="GlobalModel"/>, a <see cref="RoundClosed"/> event is published and the next round opens.
/// </summary>
/// <remarks>
/// Exactly once: a gateway calls <see cref="RoundLifecycle.TryReserve"/> before it acknowledges an
/// update, and a round that has reservations does not close before every reserved update has been
/// folded, so an acknowledged update is never lost to a closing round and never folded twice.
/// Updates fold in arrival order; a weighted sum is order-independent up to float rounding.
/// All public members are thread-safe. Folding runs on the event bus's delivery of
/// <see cref="UpdateArrived"/>, one event at a time.
/// </remarks>
public sealed class SynchronousRoundCoordinator : RoundLifecycle, IAsyncDisposable
{
    private readonly IUpdateStore _store;
    private readonly IEventBus _bus;
    private ServerState _serverState;
    private AggregationTree? _tree;
    private IAsyncDisposable? _subscription;
    private int _pending;
    private int _folded;
    private int _rejected;
    private long _samples;
    private long _payloadBytes;
    private long _aggregateTicks;

    /// <summary>Creates a coordinator holding <paramref name="initialWeights"/> as version 0; <see cref="Start"/> opens round 1.</summary>
    /// <exception cref="ArgumentException">The weights do not match the layout.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <param name="journal">Where tasks and closed rounds are recorded (<c>serve --state</c>); resume from it with <see cref="StartAsync"/>.</param>
    public SynchronousRoundCoordinator(TensorLayout layout, ReadOnlySpan<float> initialWeights, RoundOptions options,
        IUpdateStore store, IEventBus bus, TimeProvider? time = null, ILogger<SynchronousRoundCoordinator>? logger = null,
        IFederationJournal? journal = null)
        : base(layout, initialWeights, options, time, logger, journal)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(bus);
        _store = store;
        _bus = bus;
        _serverState = Strategy.InitialState();
    }

    /// <summary>A copy of the strategy's server state after the last closed round.</summary>
    public ServerState ServerState
    {
        get { lock (Gate) return _serverState.Clone(); }
    }

    /// <inheritdoc/>
    protected override int UpdatesThisRound => _folded;

    /// <summary>Subscribes to <see cref="UpdateArrived"/> and opens round 1.</summary>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    public void Start()
    {
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(Stopped, this);
            if (Started) throw new InvalidOperationException("The coordinator is already running.");
            _subscription = _bus.Subscribe<UpdateArrived>(OnUpdateArrivedAsync);
            Started = true;
            OpenRound(1);
        }
    }

    /// <summary>
    /// Resumes the federation <paramref name="record"/> holds (or starts it, when empty): the last
    /// recorded model and server state are served, its round's tasks are held again, and the updates
    /// acknowledged in it are reserved and folded once more from their journaled payloads, which go
    /// back into the store first. A round the journal closed is not folded again.
    /// </summary>
    /// <exception cref="InvalidDataException">The record does not fit this model or strategy.</exception>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    public async Task StartAsync(FederationRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.IsEmpty)
        {
            Start();
            return;
        }
        long last = record.LastRound;
        var replay = new List<AcceptedUpdate>();
        foreach (var update in record.Accepted)
            if (update.Arrived.Round == last + 1 && record.PendingPayloads.ContainsKey(update.Arrived.TaskId)) replay.Add(update);
        foreach (var update in replay)
        {
            var writer = await _store.OpenWriteAsync(update.Arrived.Reference, cancellationToken).ConfigureAwait(false);
            if (writer.Length != 0) throw new InvalidOperationException($"The store already holds {update.Arrived.Reference}; resume into an empty store.");
            await writer.WriteAsync(record.PendingPayloads[update.Arrived.TaskId], cancellationToken).ConfigureAwait(false);
            await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(Stopped, this);
            if (Started) throw new InvalidOperationException("The coordinator is already running.");
            if (last > 0)
            {
                var closed = record.Rounds[^1];
                if (closed.Weights.Length != Layout.TotalLength)
                    throw new InvalidDataException($"The journal's model of round {last} holds {closed.Weights.Length} weights; this model has {Layout.TotalLength}.");
                _serverState = closed.ServerState.IsEmpty ? Strategy.InitialState() : ServerState.Decode(closed.ServerState.Span, Strategy.Name, Layout.TotalLength);
                Resume(new GlobalModel(Layout, closed.Summary.Version, closed.Weights.Span), last, last >= Options.Rounds, record.Rounds.Select(r => r.Summary));
            }
            _subscription = _bus.Subscribe<UpdateArrived>(OnUpdateArrivedAsync);
            Started = true;
            if (Done) return;
            OpenRound(last + 1);
            foreach (var task in record.Tasks)
                if (task.Round >= last) Tasks.Restore(task);
            foreach (var update in replay)
            {
                RestoreReservation(update.Arrived.TaskId, update.Evaluation);
                _pending++;
            }
        }
        Logger.LogInformation("Resumed at round {Round} from model {Version}: {Tasks} tasks held, {Updates} acknowledged updates to fold again.",
            last + 1, Model.Version, record.Tasks.Count, replay.Count);
        foreach (var update in replay) await _bus.PublishAsync(update.Arrived, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override ReadOnlyMemory<byte> EncodedServerState() => _serverState.Encode();

    /// <inheritdoc/>
    protected override Action? OnReserved()
    {
        _pending++;
        return null;
    }

    /// <inheritdoc/>
    protected override Action? OnReleased()
    {
        _pending--;
        return Announcing(MaybeClose());
    }

    /// <inheritdoc/>
    protected override Action? OnDeadline() => Announcing(MaybeClose());

    private async ValueTask OnUpdateArrivedAsync(UpdateArrived arrived, CancellationToken cancellationToken)
    {
        bool expected;
        lock (Gate) expected = !Done && !Stopped && Tasks.AwaitsFolding(arrived.ClientId, arrived.TaskId);
        if (!expected)
        {
            Logger.LogWarning("Ignoring update {Reference}: no reservation for it in round {Round}.", arrived.Reference, Round);
            await _store.DeleteAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
            return;
        }

        long start = Stopwatch.GetTimestamp();
        RoundClosed? closed;
        // Folded straight from the store's memory: a store that lends (shared memory, or the in-memory
        // store for a payload written with its length) costs no copy here.
        using (var lease = await LeaseAsync(arrived, cancellationToken).ConfigureAwait(false))
        {
            lock (Gate)
            {
                if (lease is not null) Fold(arrived, lease.Memory.Span);
                else _rejected++;
                Tasks.MarkFolded(arrived.TaskId);
                _pending--;
                _aggregateTicks += Stopwatch.GetTimestamp() - start;
                closed = MaybeClose();
            }
        }
        await _store.DeleteAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
        Announce(closed);
    }

    /// <summary>Fused decode and fold into the round's tree (gate held); a payload that cannot be folded is counted as rejected.</summary>
    private void Fold(UpdateArrived arrived, ReadOnlySpan<byte> payload)
    {
        try
        {
            double weight = Strategy.WeightOf(new UpdateReceipt(arrived.SampleCount, arrived.BaseVersion, Model.Version));
            if (_tree!.FoldEncoded(_folded, arrived.Reference.Key, UpdatePayload.CodecFor(payload), payload, weight) != FoldOutcome.Folded)
                throw new ArgumentException($"The round's tree (planned for {_tree.Plan.ExpectedUpdates} updates) has no place for update {_folded + 1}.");
            _folded++;
            _samples += arrived.SampleCount;
            _payloadBytes += arrived.PayloadBytes;
        }
        catch (Exception e) when (e is InvalidPayloadException or ArgumentException)
        {
            Logger.LogWarning(e, "Update {Reference} could not be decoded and was left out.", arrived.Reference);
            _rejected++;
        }
    }

    /// <summary>Borrows a stored payload; null when it is missing or not the size announced.</summary>
    private async ValueTask<UpdateLease?> LeaseAsync(UpdateArrived arrived, CancellationToken cancellationToken)
    {
        UpdateLease lease;
        try
        {
            lease = await _store.LeaseAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is UpdateNotFoundException or InvalidDataException)
        {
            Logger.LogWarning(e, "Update {Reference} could not be read and was left out.", arrived.Reference);
            return null;
        }
        if (lease.Memory.Length != arrived.PayloadBytes)
        {
            Logger.LogWarning("Update {Reference} holds {Length} bytes; {Announced} were announced.", arrived.Reference, lease.Memory.Length, arrived.PayloadBytes);
            lease.Dispose();
            return null;
        }
        return lease;
    }

    /// <summary>Closes the round if its updates are all in (gate held).</summary>
    private RoundClosed? MaybeClose()
    {
        if (_pending > 0 || Stopped) return null;
        bool quorum = Reserved >= Options.MinClients;
        if (!quorum && !(DeadlinePassed && Reserved > 0)) return null;
        if (_folded == 0)
        {
            // Every reserved update was rejected at folding: take updates again.
            _rejected = 0;
            Reopen();
            return null;
        }
        return Close(byDeadline: !quorum);
    }

    private RoundClosed? Close(bool byDeadline)
    {
        long start = Stopwatch.GetTimestamp();
        var weights = Model.Weights.ToArray();
        var stateBefore = _serverState.Clone();
        // Emits every open aggregator bottom-up (all of them at a deadline), then the top takes the server step.
        var step = _tree!.Publish(Strategy, weights, _serverState);
        _tree.Dispose();
        _tree = null;
        if (!float.IsFinite(TensorPrimitives.Sum(weights)) && !AllFinite(weights))
            return Discard(stateBefore);
        var model = new GlobalModel(Layout, Model.Version.Next(), weights);
        _aggregateTicks += Stopwatch.GetTimestamp() - start;
        var closed = PublishRound(model, new RoundSummary(Round, model.Version, _folded, _rejected, _samples, _payloadBytes,
            RoundSeconds, Stopwatch.GetElapsedTime(0, _aggregateTicks).TotalSeconds, byDeadline, step));
        if (!closed.Final) OpenRound(Round + 1);
        return closed;
    }

    /// <summary>
    /// The round's aggregate is not finite (gate held): no model is published from it, the strategy's
    /// state is put back, and the round starts over with a new batch of tasks.
    /// </summary>
    private RoundClosed? Discard(ServerState stateBefore)
    {
        Logger.LogError("Round {Round}: the aggregate of its {Count} updates is not finite; no model is published and the round starts over.", Round, _folded);
        _serverState = stateBefore;
        Journal?.RecordDiscarded(Round);
        DiscardedRounds++;
        _rejected = 0;
        _folded = 0;
        _samples = _payloadBytes = 0;
        _tree = NewTree(Round);
        Reopen();
        return null;
    }

    /// <summary>Rounds whose aggregate was not finite and that started over (no model was published from them).</summary>
    public int DiscardedRounds { get; private set; }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
            if (!float.IsFinite(v)) return false;
        return true;
    }

    private void OpenRound(long round)
    {
        BeginRound(round);
        _pending = _folded = _rejected = 0;
        _samples = _payloadBytes = _aggregateTicks = 0;
        _tree?.Dispose();
        _tree = NewTree(round);
        StartClock(round);
    }

    private AggregationTree NewTree(long round) => new(Layout, Options.HierarchyFanIn > 0
        ? TreePlanner.Plan(Options.MinClients, Options.HierarchyFanIn)
        : TreePlanner.Flat(Options.MinClients), round, Strategy);

    private Action? Announcing(RoundClosed? closed) => closed is null ? null : () => Announce(closed);

    private void Announce(RoundClosed? closed)
    {
        if (closed is null) return;
        try
        {
            _bus.PublishAsync(closed).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException)
        {
            Logger.LogDebug(e, "RoundClosed for round {Round} was not published: the bus is stopping.", closed.Round);
        }
        if (closed.Final) Complete();
    }

    /// <summary>Stops listening for updates and releases the round's tree.</summary>
    public async ValueTask DisposeAsync()
    {
        IAsyncDisposable? subscription;
        lock (Gate)
        {
            if (Stopped) return;
            Stopped = true;
            subscription = _subscription;
            StopClock();
        }
        if (subscription is not null) await subscription.DisposeAsync().ConfigureAwait(false);
        lock (Gate)
        {
            _tree?.Dispose();
            _tree = null;
        }
        Cancel();
    }
}
