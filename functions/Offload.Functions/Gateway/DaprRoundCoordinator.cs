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
/// The gateway's rounds in the Dapr deployment: the shared <see cref="RoundLifecycle"/> hands out
/// tasks and reserves updates, but this coordinator aggregates nothing itself. Each round is
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
public sealed class DaprRoundCoordinator : RoundLifecycle, IModelPublishedObserver, IAsyncDisposable
{
    /// <summary>Fan-in bound of the functions' tree when <see cref="RoundOptions.HierarchyFanIn"/> is 0 (flat in process).</summary>
    public const int DefaultFanIn = 32;

    /// <summary>How long a closing round waits for reserved updates to reach the actor.</summary>
    public static readonly TimeSpan ArrivalGrace = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ArrivalPoll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan OpenRetry = TimeSpan.FromSeconds(1);

    private readonly RoundActors _actors;
    private readonly IUpdateStore _store;
    private readonly IEventBus? _announcements;
    private readonly TensorShape[] _shapes;
    private readonly CancellationTokenSource _stopping = new();
    private UpdateReference _modelReference;
    private bool _closing;
    private bool _starting;

    /// <summary>Creates a coordinator holding <paramref name="initialWeights"/> as version 0; <see cref="StartAsync"/> opens round 1.</summary>
    /// <param name="layout">The model's tensors.</param>
    /// <param name="initialWeights">Version 0.</param>
    /// <param name="options">Round settings; <see cref="RoundOptions.HierarchyFanIn"/> bounds the functions' tree, <see cref="RoundOptions.Strategy"/> travels to them with each round.</param>
    /// <param name="actors">Calls the rounds' actors through the sidecar.</param>
    /// <param name="store">The store the functions share (the model of each round is put there).</param>
    /// <param name="announcements">Gets a <see cref="RoundClosed"/> per round (reporting); optional.</param>
    /// <param name="time">The clock (tests).</param>
    /// <param name="logger">Logs round changes.</param>
    /// <param name="journal">The gateway's task book and ledger in the state store (<see cref="Journal.DaprFederationJournal"/>), so a restarted gateway still knows its tasks; null keeps them in memory.</param>
    public DaprRoundCoordinator(TensorLayout layout, ReadOnlySpan<float> initialWeights, RoundOptions options, RoundActors actors, IUpdateStore store,
        IEventBus? announcements = null, TimeProvider? time = null, ILogger<DaprRoundCoordinator>? logger = null, IFederationJournal? journal = null)
        : base(layout, initialWeights, options, time, logger, journal)
    {
        ArgumentNullException.ThrowIfNull(actors);
        ArgumentNullException.ThrowIfNull(store);
        _actors = actors;
        _store = store;
        _announcements = announcements;
        _shapes = TensorShape.Of(layout);
        _modelReference = AggregatorStep.ModelReference(0);
    }

    /// <inheritdoc/>
    protected override int UpdatesThisRound => Reserved;

    /// <inheritdoc/>
    protected override bool ReopensOnRelease => !_closing;

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
    /// <exception cref="InvalidDataException">The stored model to resume from does not fit the layout, or the journal cannot be read.</exception>
    /// <returns>
    /// What the journal held (empty without one): its tasks of the open round are held again and its
    /// acknowledged updates of that round reserved; the caller answers their retries and announces them again.
    /// </returns>
    /// <param name="resumed">Told what the journal held just before the rounds take calls (the gateway restores its ledger there).</param>
    public async Task<FederationRecord> StartAsync(TimeSpan patience = default, CancellationToken cancellationToken = default, Action<FederationRecord>? resumed = null)
    {
        lock (Gate)
        {
            if (_starting) throw new InvalidOperationException("The coordinator is already running.");
            _starting = true;
        }
        long waitingSince = Time.GetTimestamp();
        long newest;
        var record = FederationRecord.Empty;
        while (true)
        {
            try
            {
                newest = await NewestRoundAsync(cancellationToken).ConfigureAwait(false);
                if (Journal is not null) record = await Journal.LoadAsync(cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (Aggregation.TransientFailure.Is(e) && !cancellationToken.IsCancellationRequested && Time.GetElapsedTime(waitingSince) < patience)
            {
                Logger.LogWarning("The rounds' actors cannot be reached yet ({Problem}); trying again.", e.Message);
                await Task.Delay(OpenRetry, Time, cancellationToken).ConfigureAwait(false);
            }
        }
        if (newest == 0)
        {
            if (await _store.GetLengthAsync(_modelReference, cancellationToken).ConfigureAwait(false) < 0)
                await _store.WriteAllAsync(_modelReference, ModelWeightsFormat.Encode(Model.Weights.Span), cancellationToken).ConfigureAwait(false);
            await OpenAsync(1, cancellationToken, record, resumed).ConfigureAwait(false);
            return record;
        }
        var status = await _actors.GetStatusAsync(newest, cancellationToken).ConfigureAwait(false);
        if (status.Layout is null || !TensorShape.ToLayout(status.Layout).Equals(Layout))
            throw new InvalidDataException($"The federation in the state store (round {newest}) trains another model than this gateway's ({Layout}); clear the store or use its model.");
        bool published = status is { Published: true, PublishedReference: not null, PublishedVersion: not null };
        var reference = new UpdateReference(published ? status.PublishedReference! : status.ModelReference!);
        long version = published ? status.PublishedVersion!.Value : status.ModelVersion;
        var weights = ModelWeightsFormat.Decode(await _store.ReadAllAsync(reference, cancellationToken).ConfigureAwait(false), Layout.TotalLength);
        bool finished = published && (newest >= Options.Rounds || status.Last);
        lock (Gate)
        {
            Resume(new GlobalModel(Layout, new ModelVersion(version), weights), newest, finished);
            _modelReference = reference;
            if (finished)
            {
                resumed?.Invoke(record);
                Started = true;
            }
        }
        Logger.LogWarning("Resumed the federation at round {Round} from model {Version} ({State}).", newest, version,
            published ? "published" : "in progress");
        if (!finished) await OpenAsync(published ? newest + 1 : newest, cancellationToken, record, resumed).ConfigureAwait(false);
        return record;
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
    protected override Action? OnReserved()
    {
        // The actor completes the tree at the quorum; past the deadline, this reservation starts the closing.
        if (!DeadlinePassed || !BeginClosing()) return null;
        long round = Round;
        return () => _ = CloseWhenArrivedAsync(round);
    }

    /// <inheritdoc/>
    protected override Action? OnReleased() => null;

    /// <inheritdoc/>
    protected override Action? OnDeadline()
    {
        if (!BeginClosing()) return null;
        long round = Round;
        return () => _ = CloseWhenArrivedAsync(round);
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
        lock (Gate)
        {
            if (!Started || Done || Stopped || published.Round != Round || published.Version.Value <= Model.Version.Value)
            {
                Logger.LogInformation("Model {Version} of round {Round} ignored: the gateway is at round {Current}.", published.Version, published.Round, Round);
                return;
            }
            if (weights.Length != Layout.TotalLength)
                throw new InvalidDataException($"Model {published.Version} has {weights.Length} weights; the layout has {Layout.TotalLength}.");
            previous = _modelReference;
            _modelReference = published.Reference;
            // Updates carried over from the round before count here; reserved ones missing were refused by the leaf.
            closed = PublishRound(new GlobalModel(Layout, published.Version, weights.Span), new RoundSummary(Round, published.Version, published.Updates,
                Math.Max(0, Reserved - published.Updates), 0, 0, RoundSeconds, 0, DeadlinePassed));
        }
        if (_announcements is not null) await _announcements.PublishAsync(closed, cancellationToken).ConfigureAwait(false);
        await ForgetModelAsync(previous, cancellationToken).ConfigureAwait(false);
        if (closed.Final) Complete();
        else _ = OpenAsync(closed.Round + 1, _stopping.Token);
    }

    /// <summary>
    /// Deletes the model the closed round trained from, and the server state beside it: the top has
    /// stepped from them, devices download from this gateway's memory, and a restart resumes from the
    /// newest model, so nothing reads them again (a straggling second top attempt stands down when it
    /// finds the model gone). Without this the state store would keep one model per round for ever.
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
            Logger.LogWarning(e, "Model {Reference} could not be deleted from the store; it stays there.", model);
        }
    }

    /// <summary>
    /// Opens <paramref name="round"/> on its actor, retrying while the sidecar is unreachable; tasks are
    /// handed out once it is open. On the first opening, the tasks and acknowledged updates of
    /// <paramref name="resumed"/> (a journal read at start) are taken back first, and the rounds become <see cref="RoundLifecycle.Ready"/>.
    /// </summary>
    private async Task OpenAsync(long round, CancellationToken cancellationToken, FederationRecord? resumed = null, Action<FederationRecord>? told = null)
    {
        RoundOpening opening;
        lock (Gate)
        {
            BeginRound(round);
            _closing = false;
            int fanIn = Options.HierarchyFanIn > 0 ? Options.HierarchyFanIn : DefaultFanIn;
            opening = new RoundOpening(round, Options.MinClients, fanIn, (Options.RoundDeadline + ArrivalGrace).TotalSeconds,
                _modelReference.Key, Model.Version.Value, _shapes, Last: round >= Options.Rounds, Strategy: Strategy.Name, Node: _store.OwningNode());
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
                Logger.LogWarning(e, "Round {Round} could not be opened on its actor yet; retrying.", round);
                await Task.Delay(OpenRetry, Time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                Logger.LogError(e, "Round {Round} could not be opened on its actor; the federation stops.", round);
                Fail(e);
                return;
            }
        }
        lock (Gate)
        {
            StartClock(round);
            if (resumed is not null)
            {
                foreach (var task in resumed.Tasks)
                    if (task.Round == round || task.Round == round - 1) Tasks.Restore(task);
                foreach (var update in resumed.Accepted)
                    if (update.Arrived.Round == round) RestoreReservation(update.Arrived.TaskId, update.Evaluation);
                told?.Invoke(resumed);
                Started = true;
            }
        }
        Logger.LogInformation("Round {Round} opened on actor {Actor}: {Expected} updates from model {Version}.", round, RoundActor.IdFor(round), opening.ExpectedUpdates, opening.ModelVersion);
    }

    /// <summary>Stops taking updates; true when the caller must start closing (once per round, never at the quorum, which the actor handles).</summary>
    private bool BeginClosing()
    {
        Accepting = false;
        if (_closing || Reserved >= Options.MinClients) return false;
        _closing = true;
        return true;
    }

    /// <summary>Closes the round on its actor once every reserved update has reached it, or after <see cref="ArrivalGrace"/>.</summary>
    private async Task CloseWhenArrivedAsync(long round)
    {
        var token = _stopping.Token;
        long start = Time.GetTimestamp();
        try
        {
            while (true)
            {
                int reserved;
                lock (Gate)
                {
                    if (Round != round || Done) return;
                    reserved = Reserved;
                }
                var status = await _actors.GetStatusAsync(round, token).ConfigureAwait(false);
                if (status.Published || status.DeadlinePassed) return;
                if (status.Arrivals >= reserved) break;
                if (Time.GetElapsedTime(start) >= ArrivalGrace)
                {
                    Logger.LogWarning("Round {Round}: {Arrivals} of {Reserved} reserved updates reached the actor in {Grace}; closing without the rest.",
                        round, status.Arrivals, reserved, ArrivalGrace);
                    break;
                }
                await Task.Delay(ArrivalPoll, Time, token).ConfigureAwait(false);
            }
            await _actors.CloseAsync(round, token).ConfigureAwait(false);
            Logger.LogInformation("Round {Round} closed at its deadline.", round);
        }
        catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
        {
            // The actor's own deadline reminder closes the round instead.
            Logger.LogWarning(e, "Round {Round} could not be closed from the gateway; the actor's reminder will close it.", round);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops the deadline timer and any closing in progress.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        lock (Gate)
        {
            Stopped = true;
            StopClock();
        }
        Cancel();
        _stopping.Dispose();
    }
}
