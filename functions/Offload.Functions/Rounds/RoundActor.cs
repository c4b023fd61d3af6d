using Dapr.Actors.Runtime;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Hierarchy;
using Offload.Functions.Events;
using Offload.Functions.Names;

namespace Offload.Functions.Rounds;

/// <summary>
/// <see cref="IRoundActor"/> on the Dapr actor runtime. State: one <see cref="RoundState"/> under
/// <see cref="StateKey"/>; the deadline is a reminder (<see cref="DaprNames.DeadlineReminder"/>).
/// The payloads and partial sums themselves never pass through the actor: it hands out tickets
/// naming them, and the functions fold from the store. Every turn is bookkeeping on that one value
/// (daprd runs one turn at a time per actor id, so a slow turn would hold every arrival of the
/// round): at the deadline the actor publishes one <see cref="AggregatorDue"/> per leaf it made due
/// and the functions emit them, rather than folding inside the turn. Hosted by the gateway's app,
/// which always runs, so calls never find the actor type without a host while the functions scale to zero.
/// </summary>
public sealed class RoundActor : Actor, IRoundActor, IRemindable
{
    /// <summary>The actor-state key of the round.</summary>
    public const string StateKey = "round";

    /// <summary>
    /// How often the deadline reminder fires again until the round publishes: each firing announces
    /// again every leaf the deadline made due whose emitter never delivered it (a lost event, a dead function).
    /// </summary>
    public static readonly TimeSpan DeadlineRetryPeriod = TimeSpan.FromSeconds(30);

    /// <summary>How long an aggregator handed to a function stays with it before a repeated delivery may hand it to another.</summary>
    public static readonly TimeSpan EmitLease = TimeSpan.FromSeconds(30);

    private readonly IEventBus _bus;

    /// <summary>Created by the actor runtime.</summary>
    /// <param name="host">The actor's host.</param>
    /// <param name="bus">Where <see cref="AggregatorDue"/> is published (Dapr pub/sub in the deployment).</param>
    public RoundActor(ActorHost host, IEventBus bus) : base(host)
    {
        ArgumentNullException.ThrowIfNull(bus);
        _bus = bus;
    }

    /// <summary>The actor id of round <paramref name="round"/>.</summary>
    public static string IdFor(long round) => $"round-{round}";

    /// <inheritdoc/>
    public async Task<RoundStatus> Open(RoundOpening opening)
    {
        ArgumentNullException.ThrowIfNull(opening);
        opening.Validate();
        if (opening.Round.ToString(System.Globalization.CultureInfo.InvariantCulture) != Id.GetId().Replace("round-", "", StringComparison.Ordinal))
            throw new ArgumentException($"Round {opening.Round} cannot be opened on actor '{Id}'; use '{IdFor(opening.Round)}'.", nameof(opening));
        var existing = await LoadAsync().ConfigureAwait(false);
        if (existing is not null) return StatusOf(existing);
        var state = new RoundState { Opening = opening };
        await StateManager.SetStateAsync(StateKey, state).ConfigureAwait(false);
        await RegisterReminderAsync(DaprNames.DeadlineReminder, null, TimeSpan.FromSeconds(opening.DeadlineSeconds), DeadlineRetryPeriod).ConfigureAwait(false);
        Logger.LogInformation("Round {Round} opened: {Expected} updates, tree {Plan}.", opening.Round, opening.ExpectedUpdates, PlanOf(state));
        // Pre-warming: wakes scaled-to-zero functions while devices train. Best effort: the round is open
        // either way, and a failed publish costs only the first update a cold start.
        try
        {
            await _bus.PublishAsync(new RoundOpened(opening.Round, opening.ExpectedUpdates), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Logger.LogWarning(e, "Round {Round} is open, but its RoundOpened could not be published; the functions wake at the first update instead.", opening.Round);
        }
        return StatusOf(state);
    }

    /// <inheritdoc/>
    public async Task<FoldTicket> Arrive(Arrival arrival)
    {
        ArgumentNullException.ThrowIfNull(arrival);
        var state = await LoadAsync().ConfigureAwait(false);
        if (state is null) return new FoldTicket(FoldStatus.UnknownRound, $"No round is open on actor '{Id}'.");
        // The leaf that emits this round reads and deletes every registered contribution id: only the client's own update may be registered.
        if (Refusal(() => arrival.Validate()) is { } refused) return refused;
        var plan = PlanOf(state);
        int known = state.Arrivals.FindIndex(a => a.ContributionId == arrival.ContributionId);
        if (known >= 0)
        {
            // At-least-once delivery: counted once. If its leaf was handed out but its partial never
            // reached the parent (the emitting instance died), hand the leaf out again.
            int leafOfKnown = LeafOf(plan, state.Arrivals[known]);
            return await AgainOrDuplicateAsync(state, plan, 0, leafOfKnown).ConfigureAwait(false);
        }
        if (state.Opening.Clients is { Length: > 0 } clients && !clients.Contains(arrival.ClientId))
            return new FoldTicket(FoldStatus.Invalid, $"Client '{arrival.ClientId}' was given no task in round {Round(state)}.");
        if (!(arrival.SampleCount > 0)) return new FoldTicket(FoldStatus.Invalid, $"An update must come from at least one sample (got {arrival.SampleCount}).");
        if (state.PublishedVersion is not null || state.DeadlinePassed)
            return new FoldTicket(FoldStatus.Late, $"Round {Round(state)} is closed.", Round: Round(state));
        int index = state.Arrivals.Count;
        int leaf = ChooseLeaf(state, plan, arrival.Node);
        if (leaf < 0)
            return new FoldTicket(FoldStatus.Late, $"Round {Round(state)} already has its {plan.ExpectedUpdates} updates.", Round: Round(state));
        state.Arrivals.Add(arrival with { Index = index, Leaf = leaf });
        var ticket = new FoldTicket(FoldStatus.Accepted, Round: Round(state), Level: 0, Index: leaf, ModelVersion: state.Opening.ModelVersion);
        if (LeafInputs(state, plan, leaf).Length >= plan.ExpectedInputs(0, leaf))
            ticket = Due(state, plan, 0, leaf);
        await StateManager.SetStateAsync(StateKey, state).ConfigureAwait(false);
        return ticket;
    }

    /// <inheritdoc/>
    public async Task<FoldTicket> PartialArrived(PartialClaim partial)
    {
        ArgumentNullException.ThrowIfNull(partial);
        var state = await LoadAsync().ConfigureAwait(false);
        if (state is null) return new FoldTicket(FoldStatus.UnknownRound, $"No round is open on actor '{Id}'.");
        // The parent reads and deletes the registered reference: only this child's own partial may be registered.
        if (Refusal(() => partial.Validate(Round(state))) is { } refused) return refused;
        var plan = PlanOf(state);
        if (partial.Level < 0 || partial.Level >= plan.Levels - 1 || partial.Index < 0 || partial.Index >= plan.AggregatorsPerLevel[partial.Level])
            return new FoldTicket(FoldStatus.Invalid, $"Round {Round(state)} has no aggregator l{partial.Level}/a{partial.Index} below its top (tree {plan}).");
        int parentLevel = partial.Level + 1;
        int parent = plan.ParentOf(partial.Level, partial.Index);
        if (state.Partials.Find(p => p.Level == partial.Level && p.Index == partial.Index) is { } recorded)
        {
            // Another attempt's partial for this child was registered first; the caller learns which, to discard its own.
            var again = await AgainOrDuplicateAsync(state, plan, parentLevel, parent).ConfigureAwait(false);
            return again.Complete ? again : again with { Partials = [recorded] };
        }
        if (state.Emitted.Contains(RoundState.AggregatorKey(parentLevel, parent)))
            return new FoldTicket(FoldStatus.Late, $"Aggregator l{parentLevel}/a{parent} of round {Round(state)} already emitted.", Round: Round(state));
        state.Partials.Add(partial);
        var ticket = new FoldTicket(FoldStatus.Accepted, Round: Round(state), Level: parentLevel, Index: parent);
        if (ChildPartials(state, plan, parentLevel, parent).Length >= plan.ExpectedInputs(parentLevel, parent))
            ticket = Due(state, plan, parentLevel, parent);
        await StateManager.SetStateAsync(StateKey, state).ConfigureAwait(false);
        return ticket;
    }

    /// <inheritdoc/>
    public async Task<RoundStatus> Close()
    {
        var state = await LoadAsync().ConfigureAwait(false);
        if (state is null) return new RoundStatus(false);
        if (state.PublishedVersion is not null)
        {
            await TryUnregisterDeadlineAsync().ConfigureAwait(false);
            return StatusOf(state);
        }
        var plan = PlanOf(state);
        if (!state.DeadlinePassed)
        {
            state.DeadlinePassed = true;
            // Every leaf that has not emitted emits what it has (possibly nothing: a zero-weight
            // partial), so every parent completes. Marked due here; claimed and folded by the functions.
            int forced = 0;
            for (int leaf = 0; leaf < plan.AggregatorsPerLevel[0]; leaf++)
            {
                string key = RoundState.AggregatorKey(0, leaf);
                if (state.Emitted.Contains(key)) continue;
                state.Emitted.Add(key);
                forced++;
            }
            Logger.LogInformation("Round {Round} reached its deadline with {Arrivals} of {Expected} updates; {Forced} leaves made due.",
                Round(state), state.Arrivals.Count, plan.ExpectedUpdates, forced);
        }
        // Saved before announcing, so a function's claim finds the leaves due; announced again at every
        // firing of the reminder while a leaf is due, unclaimed (or its lease ran out) and undelivered.
        await StateManager.SetStateAsync(StateKey, state).ConfigureAwait(false);
        await StateManager.SaveStateAsync().ConfigureAwait(false);
        var due = new List<AggregatorDue>();
        for (int leaf = 0; leaf < plan.AggregatorsPerLevel[0]; leaf++)
            if (Owed(state, plan, 0, leaf) == Owing.Free) due.Add(new AggregatorDue(Round(state), 0, leaf, NodeOfLeaf(state, plan, leaf)));
        if (due.Count > 0) await _bus.PublishManyAsync(due, CancellationToken.None).ConfigureAwait(false);
        return StatusOf(state);
    }

    /// <inheritdoc/>
    public async Task<FoldTicket> Claim(AggregatorSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        if (Refusal(() => slot.Validate()) is { } refused) return refused;
        var state = await LoadAsync().ConfigureAwait(false);
        if (state is null) return new FoldTicket(FoldStatus.UnknownRound, $"No round is open on actor '{Id}'.");
        var plan = PlanOf(state);
        if (slot.Level < 0 || slot.Level >= plan.Levels || slot.Index < 0 || slot.Index >= plan.AggregatorsPerLevel[slot.Level])
            return new FoldTicket(FoldStatus.Invalid, $"Round {Round(state)} has no aggregator l{slot.Level}/a{slot.Index} (tree {plan}).");
        return await AgainOrDuplicateAsync(state, plan, slot.Level, slot.Index).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<RoundStatus> Release(AggregatorSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        slot.Validate();
        var state = await LoadAsync().ConfigureAwait(false);
        if (state is null) return new RoundStatus(false);
        if (state.HandedOut.Remove(RoundState.AggregatorKey(slot.Level, slot.Index)))
            await StateManager.SetStateAsync(StateKey, state).ConfigureAwait(false);
        return StatusOf(state);
    }

    /// <inheritdoc/>
    public async Task<RoundStatus> ConfirmPublished(PublishedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var state = await LoadAsync().ConfigureAwait(false);
        if (state is null) return new RoundStatus(false);
        // The gateway serves, and later deletes, the model registered here.
        model.Validate(Round(state));
        if (state.PublishedVersion is null)
        {
            state.PublishedVersion = model.Version;
            state.PublishedReference = model.Reference;
            await StateManager.SetStateAsync(StateKey, state).ConfigureAwait(false);
            await TryUnregisterDeadlineAsync().ConfigureAwait(false);
        }
        return StatusOf(state);
    }

    /// <inheritdoc/>
    public async Task<RoundStatus> GetStatus()
    {
        var state = await LoadAsync().ConfigureAwait(false);
        return state is null ? new RoundStatus(false) : StatusOf(state);
    }

    /// <summary>The deadline reminder closes the round, and fires again until the round publishes.</summary>
    public async Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period)
    {
        if (reminderName != DaprNames.DeadlineReminder)
        {
            Logger.LogWarning("Actor {Id} ignored unknown reminder '{Reminder}'.", Id, reminderName);
            return;
        }
        await Close().ConfigureAwait(false);
    }

    /// <summary>
    /// The answer to an input seen before (or a claim): the aggregator's ticket again when its output is
    /// owed and nobody holds it (its emitter gave it back or its lease ran out, so two functions never
    /// emit it at once); <see cref="FoldStatus.Held"/> while another function holds it, so the caller's
    /// event comes back and takes over if that function died; otherwise <see cref="FoldStatus.Duplicate"/>.
    /// </summary>
    private async Task<FoldTicket> AgainOrDuplicateAsync(RoundState state, TreePlan plan, int level, int index)
    {
        switch (Owed(state, plan, level, index))
        {
            case Owing.Free:
                var again = Due(state, plan, level, index);
                await StateManager.SetStateAsync(StateKey, state).ConfigureAwait(false);
                return again with { Status = FoldStatus.Duplicate };
            case Owing.Held:
                return new FoldTicket(FoldStatus.Held, $"Aggregator l{level}/a{index} of round {Round(state)} is being emitted by another function (lease {EmitLease.TotalSeconds:0} s); ask again later.", Round: Round(state));
            default:
                return new FoldTicket(FoldStatus.Duplicate, Round: Round(state));
        }
    }

    private async Task TryUnregisterDeadlineAsync()
    {
        try
        {
            await UnregisterReminderAsync(DaprNames.DeadlineReminder).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or global::Dapr.DaprApiException)
        {
            // Harmless: a reminder that fires on a closed round finds nothing to do.
            Logger.LogInformation(e, "Could not unregister the deadline reminder of {Id}.", Id);
        }
    }

    private async Task<RoundState?> LoadAsync()
    {
        var value = await StateManager.TryGetStateAsync<RoundState>(StateKey).ConfigureAwait(false);
        return value.HasValue ? value.Value : null;
    }

    private static long Round(RoundState state) => state.Opening.Round;

    /// <summary>An <see cref="FoldStatus.Invalid"/> ticket with the reason when <paramref name="validate"/> throws, else null.</summary>
    private static FoldTicket? Refusal(Action validate)
    {
        try
        {
            validate();
            return null;
        }
        catch (ArgumentException e)
        {
            return new FoldTicket(FoldStatus.Invalid, e.Message);
        }
    }

    private static TreePlan PlanOf(RoundState state) => TreePlanner.Plan(state.Opening.ExpectedUpdates, state.Opening.MaxFanIn);

    private static Arrival[] LeafInputs(RoundState state, TreePlan plan, int leaf) =>
        state.Arrivals.Where(a => LeafOf(plan, a) == leaf).ToArray();

    /// <summary>The leaf an arrival folds into: the one chosen when it arrived, or by arrival order in state saved before leaves were chosen by node.</summary>
    private static int LeafOf(TreePlan plan, Arrival arrival) => arrival.Leaf >= 0 ? arrival.Leaf : plan.LeafFor(arrival.Index);

    /// <summary>
    /// The placement, carried out: a node's updates fill leaves of their own, under parents of their
    /// own where the tree allows, so a leaf (and a middle aggregator) folds on the node whose store
    /// holds its inputs and only the subtree's partial crosses (LIFL's locality). An arrival takes the
    /// open leaf its node already fills; else an unused sibling of its node's leaves; else an unused
    /// leaf of a subtree nobody uses yet; else any unused leaf; else (every leaf taken) any leaf with
    /// room; -1 when none has room. With one node (or none named) this is arrival order.
    /// </summary>
    private static int ChooseLeaf(RoundState state, TreePlan plan, string? node)
    {
        int leaves = plan.AggregatorsPerLevel[0];
        var counts = new int[leaves];
        var owners = new string?[leaves];
        foreach (var a in state.Arrivals)
        {
            int l = LeafOf(plan, a);
            if (l >= 0 && l < leaves && counts[l]++ == 0) owners[l] = a.Node;
        }
        int Parent(int leaf) => plan.Levels > 1 ? plan.ParentOf(0, leaf) : 0;
        var parentsOfNode = new HashSet<int>();
        var parentsInUse = new HashSet<int>();
        for (int l = 0; l < leaves; l++)
        {
            if (counts[l] == 0) continue;
            parentsInUse.Add(Parent(l));
            if (owners[l] == node) parentsOfNode.Add(Parent(l));
        }
        int sibling = -1, fresh = -1, unused = -1, any = -1;
        for (int l = 0; l < leaves; l++)
        {
            if (counts[l] >= plan.ExpectedInputs(0, l) || state.Emitted.Contains(RoundState.AggregatorKey(0, l))) continue;
            if (counts[l] > 0 && owners[l] == node) return l;
            if (counts[l] == 0)
            {
                if (sibling < 0 && parentsOfNode.Contains(Parent(l))) sibling = l;
                if (fresh < 0 && !parentsInUse.Contains(Parent(l))) fresh = l;
                if (unused < 0) unused = l;
            }
            if (any < 0) any = l;
        }
        return sibling >= 0 ? sibling : fresh >= 0 ? fresh : unused >= 0 ? unused : any;
    }

    /// <summary>The node whose store holds a leaf's updates (its first arrival's), or, for a leaf with none, the round's home node.</summary>
    private static string? NodeOfLeaf(RoundState state, TreePlan plan, int leaf) =>
        state.Arrivals.Find(a => LeafOf(plan, a) == leaf)?.Node ?? state.Opening.Node;

    private static PartialClaim[] ChildPartials(RoundState state, TreePlan plan, int level, int index) =>
        state.Partials.Where(p => p.Level == level - 1 && plan.ParentOf(p.Level, p.Index) == index).ToArray();

    /// <summary>Marks the aggregator emitted and builds the ticket that hands its inputs to the caller.</summary>
    private static FoldTicket Due(RoundState state, TreePlan plan, int level, int index)
    {
        string key = RoundState.AggregatorKey(level, index);
        if (!state.Emitted.Contains(key)) state.Emitted.Add(key);
        state.HandedOut[key] = DateTimeOffset.UtcNow;
        var o = state.Opening;
        return new FoldTicket(FoldStatus.Accepted, Complete: true, Round: o.Round, Level: level, Index: index, IsTop: level == plan.Levels - 1,
            Updates: level == 0 ? LeafInputs(state, plan, index) : null,
            Partials: level == 0 ? null : ChildPartials(state, plan, level, index),
            Layout: o.Layout, ModelReference: o.ModelReference, ModelVersion: o.ModelVersion, Strategy: o.Strategy);
    }

    /// <summary>Whether the aggregator's output is owed (it is due and its output never arrived above it), and whether a function holds its lease.</summary>
    private static Owing Owed(RoundState state, TreePlan plan, int level, int index)
    {
        string key = RoundState.AggregatorKey(level, index);
        if (!state.Emitted.Contains(key)) return Owing.Nothing;
        bool top = level == plan.Levels - 1;
        bool delivered = top ? state.PublishedVersion is not null : state.Partials.Exists(p => p.Level == level && p.Index == index);
        if (delivered) return Owing.Nothing;
        return state.HandedOut.TryGetValue(key, out var since) && DateTimeOffset.UtcNow - since < EmitLease ? Owing.Held : Owing.Free;
    }

    private enum Owing
    {
        Nothing,
        Held,
        Free,
    }

    private static RoundStatus StatusOf(RoundState state) => new(
        true, state.Opening.Round, state.Opening.ExpectedUpdates, state.Arrivals.Count, state.DeadlinePassed,
        state.PublishedVersion is not null, state.PublishedVersion, PlanOf(state).AggregatorsPerLevel.ToArray(), state.Opening.Layout, state.Opening.Last,
        state.PublishedReference, state.Opening.ModelReference, state.Opening.ModelVersion, state.Opening.Strategy);
}
