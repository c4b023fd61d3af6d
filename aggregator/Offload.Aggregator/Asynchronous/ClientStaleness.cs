namespace Offload.Aggregator.Asynchronous;

/// <summary>One device's updates as the asynchronous coordinator folded them.</summary>
/// <param name="ClientId">The device.</param>
/// <param name="Updates">Updates folded (or refused) in all.</param>
/// <param name="Stale">Of them, those older than the model they were folded into.</param>
/// <param name="Corrected">Stale ones the corrector replaced.</param>
/// <param name="FellBack">Stale ones the fall-back weighted (a failed correction, or older than the window).</param>
/// <param name="MaxStaleness">The largest staleness of its updates.</param>
public sealed record ClientStaleness(string ClientId, long Updates, long Stale, long Corrected, long FellBack, long MaxStaleness);
