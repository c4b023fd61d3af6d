namespace Offload.Aggregator.Staleness;

/// <summary>
/// Turns a stale update (computed from an old global model) into one fit for the current model, or
/// says it cannot. Implementations range from leaving the update alone, through weighting it down
/// by its staleness (FedAsync), to first-order correction (DC-ASGD) and gradient inversion.
/// The aggregator calls it off the request path through <see cref="CorrectionQueue"/>; an
/// implementation need not be thread-safe, since the queue calls it from one thread at a time.
/// </summary>
public interface IStalenessCorrector
{
    /// <summary>A short name for logs and summaries, e.g. <c>fedasync-poly</c>.</summary>
    string Name { get; }

    /// <summary>Corrects <paramref name="update"/>; the inputs are only read, never written.</summary>
    /// <exception cref="ArgumentException">The update does not fit the corrector (for example a layout it cannot model).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default);
}
