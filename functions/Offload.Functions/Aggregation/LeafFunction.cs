using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Functions.Events;
using Offload.Functions.Rounds;
using Offload.Functions.Storage;

namespace Offload.Functions.Aggregation;

/// <summary>
/// The leaf aggregator function, triggered by <see cref="UpdateArrived"/>. It decodes the payload
/// against the round's layout (refusing one that cannot be folded before it takes a place), registers
/// the arrival with the round's actor (which makes a repeated delivery count once and names its
/// leaf), folds it at once into that leaf's warm sum (<see cref="WarmLeaves"/>: eager aggregation),
/// and when the arrival completes its leaf, emits the leaf through <see cref="AggregatorStep"/>.
/// Nothing that scaling to zero would lose is held in memory: the payload stays in the store until
/// the leaf's partial is announced, so any instance can take any event.
/// </summary>
public sealed class LeafFunction
{
    private readonly RoundActors _rounds;
    private readonly IUpdateStore _store;
    private readonly AggregatorStep _step;
    private readonly WarmLeaves _warm;
    private readonly RoundStrategies _strategies;
    private readonly ILogger _logger;

    /// <summary>Creates the function.</summary>
    public LeafFunction(RoundActors rounds, IUpdateStore store, AggregatorStep step, WarmLeaves warm, RoundStrategies strategies, ILogger<LeafFunction> logger)
    {
        _rounds = rounds;
        _store = store;
        _step = step;
        _warm = warm;
        _strategies = strategies;
        _logger = logger;
    }

    /// <summary>Handles one delivery.</summary>
    /// <remarks>An update that comes after its round closed goes to the next round (see <see cref="CarryOverAsync"/>).</remarks>
    public async Task<Delivery> HandleAsync(UpdateArrived arrived, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arrived);
        // Before any read or delete: the reference must be this client's update for this task, nothing else in the store.
        if (MalformedEvent.ReasonFor(arrived) is { } malformed) return Delivery.Drop(malformed);
        try
        {
            var opened = await _rounds.GetOpenedAsync(arrived.Round, cancellationToken).ConfigureAwait(false);
            if (opened is null) return Delivery.Drop($"Round {arrived.Round} is not open.");
            // Borrowed, not copied: a node store lends its memory for the check and the fold (pulled first if another node holds it).
            using var lease = await _store.TryLeaseAsync(arrived.Reference, arrived.Node, cancellationToken).ConfigureAwait(false);
            if (lease is null) return Delivery.Drop($"No committed payload is stored under '{arrived.Reference}' (never stored, or already folded and deleted).");
            var payload = lease.Memory;
            if (payload.Length != arrived.PayloadBytes)
                return Delivery.Drop($"'{arrived.Reference}' holds {payload.Length} bytes; the event announced {arrived.PayloadBytes}.");
            var layout = TensorShape.ToLayout(opened.Layout);
            IUpdateCodec codec;
            try
            {
                // Every check a decode makes, writing nothing: a payload that cannot be folded is refused before it takes a place in the round.
                codec = UpdatePayload.Validate(payload.Span, layout);
            }
            catch (InvalidPayloadException e)
            {
                await _store.DeleteFromAsync(arrived.Reference, arrived.Node, cancellationToken).ConfigureAwait(false);
                return Delivery.Drop($"'{arrived.Reference}' is not a valid update for round {arrived.Round}: {e.Message}");
            }

            var ticket = await _rounds.ArriveAsync(arrived.Round,
                new Arrival(arrived.Reference.Key, arrived.ClientId, arrived.SampleCount, arrived.BaseVersion.Value, Node: arrived.Node, Scale: arrived.Scale), cancellationToken).ConfigureAwait(false);
            if (ticket.Status == FoldStatus.Accepted)
            {
                // Eager aggregation: fused decode-and-add into the leaf's warm sum (a FedZip update touches only its kept coordinates).
                // Validated above under this lease, so checked once: the fold is the add alone.
                var strategy = _strategies.For(opened.Strategy);
                var receipt = new UpdateReceipt(arrived.SampleCount, arrived.BaseVersion, new ModelVersion(ticket.ModelVersion));
                _warm.Fold(arrived.Round, ticket.Index, layout, strategy, arrived.Reference.Key, codec, payload.Span, strategy.WeightOf(receipt), validated: true,
                    scale: arrived.Scale ?? strategy.ScaleOf(receipt));
            }
            switch (ticket.Status)
            {
                case FoldStatus.UnknownRound or FoldStatus.Invalid:
                    await _store.DeleteFromAsync(arrived.Reference, arrived.Node, cancellationToken).ConfigureAwait(false);
                    return Delivery.Drop(ticket.Reason ?? ticket.Status.ToString());
                case FoldStatus.Held:
                    return Delivery.Retry(ticket.Reason ?? ticket.Status.ToString());
                case FoldStatus.Late:
                    return await CarryOverAsync(arrived, opened, ticket.Reason, cancellationToken).ConfigureAwait(false);
                case FoldStatus.Duplicate when !ticket.Complete:
                    _logger.LogInformation("Update {Reference} was delivered again; it counts once.", arrived.Reference);
                    return Delivery.Success;
            }
            if (ticket.Complete) await _rounds.EmitOrReleaseAsync(_step, ticket, cancellationToken).ConfigureAwait(false);
            return Delivery.Success;
        }
        catch (Exception e) when (TransientFailure.Is(e))
        {
            _logger.LogWarning(e, "Update {Reference}: transient failure, asking for redelivery.", arrived.Reference);
            return Delivery.Retry($"{e.GetType().Name}: {e.Message}");
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException || TransientFailure.IsPermanentSidecarError(e))
        {
            return Delivery.Drop($"Update {arrived.Reference}: {e.Message}");
        }
    }

    /// <summary>
    /// Handles one <see cref="AggregatorDue"/>: claims the aggregator from the round's actor and, when
    /// the actor hands it out (nobody holds it and its output never arrived), emits it.
    /// </summary>
    public async Task<Delivery> HandleDueAsync(AggregatorDue due, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(due);
        if (MalformedEvent.ReasonFor(due) is { } malformed) return Delivery.Drop(malformed);
        try
        {
            var ticket = await _rounds.ClaimAsync(due.Round, new AggregatorSlot(due.Level, due.Index), cancellationToken).ConfigureAwait(false);
            if (ticket.Status is FoldStatus.UnknownRound or FoldStatus.Invalid) return Delivery.Drop(ticket.Reason ?? ticket.Status.ToString());
            if (ticket.Status == FoldStatus.Held) return Delivery.Retry(ticket.Reason ?? ticket.Status.ToString());
            if (ticket.Complete) await _rounds.EmitOrReleaseAsync(_step, ticket, cancellationToken).ConfigureAwait(false);
            return Delivery.Success;
        }
        catch (Exception e) when (TransientFailure.Is(e))
        {
            _logger.LogWarning(e, "Aggregator l{Level}/a{Index} of round {Round}: transient failure, asking for redelivery.", due.Level, due.Index, due.Round);
            return Delivery.Retry($"{e.GetType().Name}: {e.Message}");
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException || TransientFailure.IsPermanentSidecarError(e))
        {
            return Delivery.Drop($"Aggregator l{due.Level}/a{due.Index} of round {due.Round}: {e.Message}");
        }
    }

    /// <summary>
    /// An update that came after its round closed is never dropped silently: it is registered with the
    /// next round once that round is open (redelivery is asked for until then), and only after the
    /// last round is it deleted, with a warning.
    /// </summary>
    private async Task<Delivery> CarryOverAsync(UpdateArrived arrived, OpenedRound round, string? reason, CancellationToken cancellationToken)
    {
        if (round.Last)
        {
            _logger.LogWarning("Update {Reference} came after the last round ({Round}) closed and is left out: {Reason}", arrived.Reference, arrived.Round, reason);
            await _store.DeleteFromAsync(arrived.Reference, arrived.Node, cancellationToken).ConfigureAwait(false);
            return Delivery.Success;
        }
        if (await _rounds.GetOpenedAsync(arrived.Round + 1, cancellationToken).ConfigureAwait(false) is null)
            return Delivery.Retry($"Update {arrived.Reference} came after round {arrived.Round} closed ({reason}); round {arrived.Round + 1}, where it goes, is not open yet.");
        _logger.LogInformation("Update {Reference} came after round {Round} closed; it goes to round {Next}.", arrived.Reference, arrived.Round, arrived.Round + 1);
        return await HandleAsync(arrived with { Round = arrived.Round + 1 }, cancellationToken).ConfigureAwait(false);
    }
}
