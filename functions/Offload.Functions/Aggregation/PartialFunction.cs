using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.Storage;
using Offload.Functions.Events;
using Offload.Functions.Rounds;
using Offload.Functions.Storage;

namespace Offload.Functions.Aggregation;

/// <summary>
/// The middle and top aggregator function, triggered by <see cref="PartialReady"/>: checks the stored
/// partial, registers it with the round's actor (a repeated delivery counts once, keyed by the
/// child's address), and when it completes its parent, emits the parent: a middle aggregator
/// publishes <see cref="PartialReady"/>, the top stores the next model and publishes <see cref="ModelPublished"/>.
/// </summary>
public sealed class PartialFunction
{
    private readonly RoundActors _rounds;
    private readonly IUpdateStore _store;
    private readonly AggregatorStep _step;
    private readonly ILogger _logger;

    /// <summary>Creates the function.</summary>
    public PartialFunction(RoundActors rounds, IUpdateStore store, AggregatorStep step, ILogger<PartialFunction> logger)
    {
        _rounds = rounds;
        _store = store;
        _step = step;
        _logger = logger;
    }

    /// <summary>Handles one delivery.</summary>
    public async Task<Delivery> HandleAsync(PartialReady ready, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ready);
        // Before any read or delete: the reference must be a partial of the very aggregator the event names.
        if (MalformedEvent.ReasonFor(ready) is { } malformed) return Delivery.Drop(malformed);
        try
        {
            var opened = await _rounds.GetOpenedAsync(ready.Round, cancellationToken).ConfigureAwait(false);
            if (opened is null) return Delivery.Drop($"Round {ready.Round} is not open.");
            using (var lease = await _store.TryLeaseAsync(ready.Reference, ready.Node, cancellationToken).ConfigureAwait(false))
            {
                if (lease is null) return Delivery.Drop($"No committed partial is stored under '{ready.Reference}' (never stored, or already folded and deleted).");
                try
                {
                    using var _ = PartialSumFormat.Decode(lease.Memory.Span, new AggregatorAddress(ready.Round, ready.Level, ready.Index), TensorShape.ToLayout(opened.Layout).TotalLength);
                }
                catch (InvalidDataException e)
                {
                    return Delivery.Drop(e.Message);
                }
            }
            var ticket = await _rounds.PartialArrivedAsync(ready.Round,
                new PartialClaim(ready.Level, ready.Index, ready.Reference.Key, ready.UpdateCount, ready.TotalWeight, ready.Node), cancellationToken).ConfigureAwait(false);
            if (ticket.Status is FoldStatus.Duplicate or FoldStatus.Held
                && Array.Find(ticket.Partials ?? [], p => p.Level == ready.Level && p.Index == ready.Index) is { } recorded
                && recorded.Reference != ready.Reference.Key)
            {
                // A second attempt at the same child: its parent folds the first one, so this output goes.
                _logger.LogInformation("Partial {Reference} lost to {Recorded}; deleting it.", ready.Reference, recorded.Reference);
                await _store.DeleteFromAsync(ready.Reference, ready.Node, cancellationToken).ConfigureAwait(false);
                // The parent does not wait on this attempt, so its event is done whoever holds the parent.
                if (!ticket.Complete) return Delivery.Success;
            }
            switch (ticket.Status)
            {
                case FoldStatus.UnknownRound or FoldStatus.Invalid:
                    return Delivery.Drop(ticket.Reason ?? ticket.Status.ToString());
                case FoldStatus.Held:
                    return Delivery.Retry(ticket.Reason ?? ticket.Status.ToString());
                case FoldStatus.Late:
                    _logger.LogInformation("Partial {Reference} came late: {Reason}", ready.Reference, ticket.Reason);
                    return Delivery.Success;
                case FoldStatus.Duplicate when !ticket.Complete:
                    return Delivery.Success;
            }
            if (ticket.Complete)
            {
                var published = await _rounds.EmitOrReleaseAsync(_step, ticket, cancellationToken).ConfigureAwait(false);
                if (published is ModelPublished model)
                    await _rounds.ConfirmPublishedAsync(ready.Round, new PublishedModel(model.Version.Value, model.Reference.Key), cancellationToken).ConfigureAwait(false);
            }
            return Delivery.Success;
        }
        catch (Exception e) when (TransientFailure.Is(e))
        {
            _logger.LogWarning(e, "Partial {Reference}: transient failure, asking for redelivery.", ready.Reference);
            return Delivery.Retry($"{e.GetType().Name}: {e.Message}");
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or UpdateNotFoundException || TransientFailure.IsPermanentSidecarError(e))
        {
            return Delivery.Drop($"Partial {ready.Reference}: {e.Message}");
        }
    }
}
