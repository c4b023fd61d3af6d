namespace Offload.Functions.Subscriptions;

/// <summary>What a <see cref="DeliveryGate"/> answered: events by status, events turned away while stopping, deliveries still in flight.</summary>
/// <param name="Succeeded">Events answered SUCCESS.</param>
/// <param name="Retried">Events answered RETRY by a function (a transient failure, a held aggregator).</param>
/// <param name="Dropped">Events answered DROP (malformed or poisoned).</param>
/// <param name="TurnedAway">Events answered RETRY because the app was stopping.</param>
/// <param name="InFlight">Deliveries admitted and not yet answered.</param>
public sealed record DeliveryCounts(long Succeeded, long Retried, long Dropped, long TurnedAway, int InFlight);
