using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Functions.Rounds;
using Offload.Functions.Storage;

namespace Offload.Functions.Aggregation;

/// <summary>
/// Emits one due aggregator of a round's tree, statelessly: reads the inputs its ticket names from
/// the <see cref="IUpdateStore"/> (a leaf starts from its warm sum, <see cref="WarmLeaves"/>), folds
/// them with the hierarchical engine (<see cref="LeafAggregator"/>, <see cref="MiddleAggregator"/>,
/// <see cref="TopAggregator"/>), stores the result and publishes <see cref="PartialReady"/> or, at
/// the top, <see cref="ModelPublished"/>, and only then deletes the inputs.
/// </summary>
/// <remarks>
/// Two functions may emit the same aggregator (the round's actor hands it out again when the first
/// one's lease runs out while it is merely slow). Each attempt therefore stores its output under a
/// key of its own, so neither overwrites the other; the actor registers the first
/// <see cref="PartialReady"/> of a child and the parent folds that one. An attempt that finds an
/// input gone stands down without publishing: inputs are deleted only after another attempt stored
/// and announced its output.
/// </remarks>
public sealed class AggregatorStep
{
    private readonly IUpdateStore _store;
    private readonly IEventBus _bus;
    private readonly RoundStrategies _strategies;
    private readonly WarmLeaves _warm;
    private readonly ILogger _logger;

    /// <summary>Creates the step.</summary>
    public AggregatorStep(IUpdateStore store, IEventBus bus, RoundStrategies strategies, WarmLeaves warm, ILogger<AggregatorStep> logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(strategies);
        ArgumentNullException.ThrowIfNull(warm);
        _store = store;
        _bus = bus;
        _strategies = strategies;
        _warm = warm;
        _logger = logger;
    }

    /// <summary>Where one attempt (<paramref name="attempt"/>) at aggregator (<paramref name="level"/>, <paramref name="index"/>) of <paramref name="round"/> stores its partial sum.</summary>
    public static UpdateReference PartialReference(long round, int level, int index, string attempt) => StoreKeys.Partial(round, level, index, attempt);

    /// <summary>Where the initial global model (version 0) is stored; later versions go under <see cref="ModelReference(long, string)"/>.</summary>
    public static UpdateReference ModelReference(long version) => StoreKeys.InitialModel(version);

    /// <summary>Where one attempt at publishing global model <paramref name="version"/> stores it.</summary>
    public static UpdateReference ModelReference(long version, string attempt) => StoreKeys.Model(version, attempt);

    /// <summary>
    /// Where the strategy's server state that goes with <paramref name="model"/> is stored: beside it,
    /// written by the same top attempt, so whichever attempt's model the round registers, its state is
    /// the one the next round's top (on any instance) reads. Absent for version 0: the initial state.
    /// </summary>
    public static UpdateReference ServerStateReference(UpdateReference model) => new($"{model.Key}/state");

    /// <summary>
    /// Emits the aggregator <paramref name="ticket"/> hands out; returns the event it published, or
    /// null when it stood down because another attempt already emitted the aggregator.
    /// </summary>
    /// <exception cref="ArgumentException">The ticket is not complete or lacks its inputs.</exception>
    /// <exception cref="InvalidDataException">A stored partial or model is malformed.</exception>
    public async ValueTask<object?> EmitAsync(FoldTicket ticket, CancellationToken cancellationToken)
    {
        var published = await EmitUnpublishedAsync(ticket, cancellationToken).ConfigureAwait(false);
        if (published is null) return null;
        if (published is PartialReady ready) await _bus.PublishAsync(ready, cancellationToken).ConfigureAwait(false);
        else await _bus.PublishAsync((ModelPublished)published, cancellationToken).ConfigureAwait(false);
        await DeleteInputsAsync(ticket, cancellationToken).ConfigureAwait(false);
        return published;
    }

    /// <summary>Folds and stores the aggregator's output; returns the event announcing it, not yet published, or null when an input is gone.</summary>
    private async ValueTask<object?> EmitUnpublishedAsync(FoldTicket ticket, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        if (!ticket.Complete || ticket.Layout is null || ticket.ModelReference is null)
            throw new ArgumentException("Only a complete ticket with its layout and model names an aggregator to emit.", nameof(ticket));
        var layout = TensorShape.ToLayout(ticket.Layout);
        var address = new AggregatorAddress(ticket.Round, ticket.Level, ticket.Index);
        string attempt = Guid.NewGuid().ToString("N")[..12];
        try
        {
            if (ticket.IsTop) return await StoreModelAsync(ticket, layout, address, attempt, cancellationToken).ConfigureAwait(false);

            var reference = PartialReference(ticket.Round, ticket.Level, ticket.Index, attempt);
            using var core = ticket.Level == 0
                ? await FoldLeafAsync(ticket, layout, address, cancellationToken).ConfigureAwait(false)
                : await FoldMiddleAsync(ticket, layout, address, cancellationToken).ConfigureAwait(false);
            using var partial = core.Emit();
            await _store.WriteAllAsync(reference, PartialSumFormat.Encode(partial), cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Aggregator {Address} emitted {Updates} updates (weight {Weight}).", address, partial.UpdateCount, partial.TotalWeight);
            // Stored in this node's store when it has one: the event names the node, so a parent elsewhere pulls it from here.
            return new PartialReady(reference, ticket.Round, ticket.Level, ticket.Index, partial.UpdateCount, partial.TotalWeight, _store.OwningNode());
        }
        catch (UpdateNotFoundException e)
        {
            _logger.LogInformation("Aggregator {Address} stands down: its input '{Reference}' is gone, so another attempt emitted it.", address, e.Reference);
            return null;
        }
    }

    private async ValueTask<AggregatorCore> FoldLeafAsync(FoldTicket ticket, TensorLayout layout, AggregatorAddress address, CancellationToken cancellationToken)
    {
        var inputs = ticket.Updates ?? [];
        // The leaf's warm sum, if this instance folded some of its updates on arrival; the rest come from the store.
        var strategy = _strategies.For(ticket.Strategy);
        var core = _warm.Take(ticket.Round, ticket.Index) ?? new LeafAggregator(layout, address, Math.Max(1, inputs.Length), strategy).Core;
        try
        {
            var current = new ModelVersion(ticket.ModelVersion);
            int warm = 0;
            foreach (var arrival in inputs)
            {
                if (core.Contains(arrival.ContributionId))
                {
                    warm++;
                    continue;
                }
                if (StoreKeys.UpdateShapeProblem(arrival.ContributionId, "contributionId") is { } problem)
                {
                    // The actor refuses such an arrival; a ticket naming one anyway is never read from (nor deleted).
                    _logger.LogWarning("Leaf {Address} leaves out an input outside the updates: {Problem}", address, problem);
                    continue;
                }
                // Gone only if another attempt stored and announced this leaf: UpdateNotFoundException stands this one down.
                using var lease = await _store.LeaseFromAsync(new UpdateReference(arrival.ContributionId), arrival.Node, cancellationToken).ConfigureAwait(false);
                try
                {
                    var receipt = new UpdateReceipt(arrival.SampleCount, new ModelVersion(arrival.BaseVersion), current);
                    var payload = lease.Memory.Span;
                    core.FoldEncoded(arrival.ContributionId, UpdatePayload.CodecFor(payload), payload, strategy.WeightOf(receipt),
                        scale: arrival.Scale ?? strategy.ScaleOf(receipt));
                }
                catch (Exception e) when (e is InvalidPayloadException or ArgumentException)
                {
                    _logger.LogWarning(e, "Update {Reference} of {Address} could not be folded and is left out.", arrival.ContributionId, address);
                }
            }
            _logger.LogDebug("Leaf {Address}: {Warm} of {Inputs} updates were folded on arrival.", address, warm, inputs.Length);
            return core;
        }
        catch
        {
            core.Dispose();
            throw;
        }
    }

    private async ValueTask<AggregatorCore> FoldMiddleAsync(FoldTicket ticket, TensorLayout layout, AggregatorAddress address, CancellationToken cancellationToken)
    {
        var middle = new MiddleAggregator(layout, address, Math.Max(1, (ticket.Partials ?? []).Length));
        try
        {
            await FoldPartialsAsync(ticket, layout, middle.Fold, cancellationToken).ConfigureAwait(false);
            return middle.Core;
        }
        catch
        {
            middle.Dispose();
            throw;
        }
    }

    private async ValueTask FoldPartialsAsync(FoldTicket ticket, TensorLayout layout, Func<PartialAggregate, FoldOutcome> fold, CancellationToken cancellationToken)
    {
        foreach (var claim in ticket.Partials ?? [])
        {
            if (StoreKeys.PartialProblem(claim.Reference, ticket.Round, claim.Level, claim.Index, "reference") is { } problem)
            {
                _logger.LogWarning("Aggregator l{Level}/a{Index} of round {Round} leaves out an input that is not its child's partial: {Problem}", ticket.Level, ticket.Index, ticket.Round, problem);
                continue;
            }
            using var lease = await _store.LeaseFromAsync(new UpdateReference(claim.Reference), claim.Node, cancellationToken).ConfigureAwait(false);
            using var partial = PartialSumFormat.Decode(lease.Memory.Span, new AggregatorAddress(ticket.Round, claim.Level, claim.Index), layout.TotalLength);
            fold(partial);
        }
    }

    private async ValueTask<ModelPublished> StoreModelAsync(FoldTicket ticket, TensorLayout layout, AggregatorAddress address, string attempt, CancellationToken cancellationToken)
    {
        var version = new ModelVersion(ticket.ModelVersion).Next();
        var reference = ModelReference(version.Value, attempt);
        var strategy = _strategies.For(ticket.Strategy);
        var trainedFrom = new UpdateReference(ticket.ModelReference!);
        var weights = ModelWeightsFormat.Decode(await _store.ReadAllAsync(trainedFrom, cancellationToken).ConfigureAwait(false), layout.TotalLength);
        var state = await ReadServerStateAsync(trainedFrom, strategy, layout, cancellationToken).ConfigureAwait(false);
        using var top = new TopAggregator(layout, address, Math.Max(1, (ticket.Partials ?? []).Length));
        await FoldPartialsAsync(ticket, layout, top.Fold, cancellationToken).ConfigureAwait(false);
        var step = top.Publish(strategy, weights, state);
        // The state first: a model that is stored and announced always finds its state beside it.
        await _store.WriteAllAsync(ServerStateReference(reference), state.Encode(), cancellationToken).ConfigureAwait(false);
        await _store.WriteAllAsync(reference, ModelWeightsFormat.Encode(weights), cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("Round {Round} stored model {Version} from {Updates} updates ({Strategy}, step norm {StepNorm:G4}).",
            ticket.Round, version, step.Updates, strategy.Name, step.StepNorm);
        return new ModelPublished(reference, ticket.Round, version, step.Updates);
    }

    /// <summary>The server state stored beside the model the round trained from, or the strategy's initial state where none is (version 0).</summary>
    private async ValueTask<ServerState> ReadServerStateAsync(UpdateReference model, AggregationStrategy strategy, TensorLayout layout, CancellationToken cancellationToken)
    {
        var bytes = await _store.TryReadAllAsync(ServerStateReference(model), cancellationToken).ConfigureAwait(false);
        if (bytes is null) return strategy.InitialState();
        return ServerState.Decode(bytes, strategy.Name, layout.TotalLength);
    }

    /// <summary>Inputs are deleted only after the output is stored and announced, so an attempt that finds one missing knows another attempt finished.</summary>
    private async ValueTask DeleteInputsAsync(FoldTicket ticket, CancellationToken cancellationToken)
    {
        // Only the round's own updates and partials: a key outside them is never deleted, whatever the ticket says.
        foreach (var arrival in ticket.Updates ?? [])
            if (StoreKeys.UpdateShapeProblem(arrival.ContributionId, "contributionId") is null)
                await _store.DeleteFromAsync(new UpdateReference(arrival.ContributionId), arrival.Node, cancellationToken).ConfigureAwait(false);
        foreach (var claim in ticket.Partials ?? [])
            if (StoreKeys.PartialProblem(claim.Reference, ticket.Round, claim.Level, claim.Index, "reference") is null)
                await _store.DeleteFromAsync(new UpdateReference(claim.Reference), claim.Node, cancellationToken).ConfigureAwait(false);
    }
}
