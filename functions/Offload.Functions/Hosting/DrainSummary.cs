using System.Globalization;
using Offload.Functions.Subscriptions;

namespace Offload.Functions.Hosting;

/// <summary>What a stop of the functions app answered, and whether it finished the deliveries in flight.</summary>
/// <param name="Counts">Events answered over the app's life, those turned away while it stopped, and deliveries still in flight when the drain ended (0: none was cut).</param>
/// <param name="Elapsed">How long the drain took.</param>
public sealed record DrainSummary(DeliveryCounts Counts, TimeSpan Elapsed)
{
    /// <summary>The one line <c>offload serve --dapr</c> prints when it stops.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"Stopped: {Counts.Succeeded} events SUCCESS, {Counts.Retried} RETRY, {Counts.Dropped} DROP; {Counts.TurnedAway} turned away (RETRY) while draining; "
        + $"{(Counts.InFlight == 0 ? "every delivery in flight finished" : $"{Counts.InFlight} deliveries in flight cut (their aggregators' emit leases run out and another instance takes them)")} in {Elapsed.TotalSeconds:F1} s.");
}
