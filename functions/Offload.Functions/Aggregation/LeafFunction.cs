using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Functions.Rounds;
using Offload.Functions.Storage;

namespace Offload.Functions.Aggregation;

/// <summary>
/// The leaf aggregator function, triggered by <see cref="UpdateArrived"/>. Stateless: it checks the
/// payload against the round's layout, registers the arrival with the round's actor (which makes a
/// repeated delivery count once), and when the arrival completes its leaf, emits that leaf through
/// <see cref="AggregatorStep"/>. Any instance can take any event.
/// </summary>
public sealed class LeafFunction
{
    private readonly RoundActors _rounds;
    private readonly IUpdateStore _store;
    private readonly AggregatorStep _step;
    private readonly ILogger _logger;

    /// <summary>Creates the function.</summary>
    public LeafFunction(RoundActors rounds, IUpdateStore store, AggregatorStep step, ILogger<LeafFunction> logger)
    {
        _rounds = rounds;
        _store = store;
        _step = step;
        _logger = logger;
    }

    /// <summary>Handles one delivery.</summary>
    public async Task<Delivery> HandleAsync(UpdateArrived arrived, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arrived);
        if (arrived.Reference.Key is null) return Delivery.Drop("UpdateArrived has no reference.");
        if (arrived.Round < 1) return Delivery.Drop($"UpdateArrived names round {arrived.Round}; rounds start at 1.");
        if (string.IsNullOrEmpty(arrived.ClientId)) return Delivery.Drop("UpdateArrived has no client id.");
        if (arrived.SampleCount < 1) return Delivery.Drop($"UpdateArrived reports {arrived.SampleCount} samples; at least 1 is needed.");
        try
        {
            var status = await _rounds.GetStatusAsync(arrived.Round, cancellationToken).ConfigureAwait(false);
            if (!status.Known || status.Layout is null) return Delivery.Drop($"Round {arrived.Round} is not open.");
            var payload = await _store.TryReadAllAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
            if (payload is null) return Delivery.Drop($"No committed payload is stored under '{arrived.Reference}' (never stored, or already folded and deleted).");
            if (payload.Length != arrived.PayloadBytes)
                return Delivery.Drop($"'{arrived.Reference}' holds {payload.Length} bytes; the event announced {arrived.PayloadBytes}.");
            var layout = TensorShape.ToLayout(status.Layout);
            try
            {
                // Decode once into scratch: a payload that cannot be folded is refused before it takes a place in the round.
                UpdatePayload.CodecFor(payload).DecodeAndAccumulate(payload, layout, new float[layout.TotalLength], 1f);
            }
            catch (Exception e) when (e is InvalidPayloadException or ArgumentException)
            {
                await _store.DeleteAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
                return Delivery.Drop($"'{arrived.Reference}' is not a valid update for round {arrived.Round}: {e.Message}");
            }

            var ticket = await _rounds.ArriveAsync(arrived.Round,
                new Arrival(arrived.Reference.Key, arrived.ClientId, arrived.SampleCount, arrived.BaseVersion.Value), cancellationToken).ConfigureAwait(false);
            switch (ticket.Status)
            {
                case FoldStatus.UnknownRound or FoldStatus.Invalid:
                    await _store.DeleteAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
                    return Delivery.Drop(ticket.Reason ?? ticket.Status.ToString());
                case FoldStatus.Late:
                    // Not part of this round, and never will be: the payload goes, as in the in-process coordinator.
                    _logger.LogInformation("Update {Reference} came late and is left out: {Reason}", arrived.Reference, ticket.Reason);
                    await _store.DeleteAsync(arrived.Reference, cancellationToken).ConfigureAwait(false);
                    return Delivery.Success;
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
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            return Delivery.Drop($"Update {arrived.Reference}: {e.Message}");
        }
    }
}
