namespace Offload.Aggregator.Staleness;

/// <summary>
/// A corrector's answer: the update to fold, a factor on its aggregation weight, and what was done.
/// </summary>
/// <param name="Delta">The update to fold; the caller's stale delta itself when <see cref="Outcome"/> is Unchanged or Weighted.</param>
/// <param name="Scale">Factor on the update's aggregation weight, in (0, 1] for the built-in correctors.</param>
/// <param name="Outcome">What the corrector did.</param>
/// <param name="RelativeError">
/// For correctors with a quality gate: ||stale - reproduced|| / ||stale||, how well the corrector's
/// model of the client reproduced the stale update from its base model; null otherwise.
/// </param>
public sealed record StalenessCorrection(ReadOnlyMemory<float> Delta, double Scale, CorrectionOutcome Outcome, double? RelativeError = null)
{
    /// <summary>The update as it came, weight unchanged.</summary>
    public static StalenessCorrection Unchanged(ReadOnlyMemory<float> delta) => new(delta, 1.0, CorrectionOutcome.Unchanged);

    /// <summary>The update as it came, weight scaled by <paramref name="scale"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The scale is not positive and finite.</exception>
    public static StalenessCorrection Weighted(ReadOnlyMemory<float> delta, double scale)
    {
        if (!(scale > 0) || !double.IsFinite(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "A staleness weight must be positive and finite.");
        return new(delta, scale, CorrectionOutcome.Weighted);
    }

    /// <summary>A new update for the current model.</summary>
    public static StalenessCorrection Corrected(ReadOnlyMemory<float> delta, double? relativeError = null) =>
        new(delta, 1.0, CorrectionOutcome.Corrected, relativeError);

    /// <summary><paramref name="fallback"/>'s update and weight, marked as a fall-back after a failed gate.</summary>
    public static StalenessCorrection FellBack(StalenessCorrection fallback, double? relativeError)
    {
        ArgumentNullException.ThrowIfNull(fallback);
        return new(fallback.Delta, fallback.Scale, CorrectionOutcome.FellBack, relativeError);
    }
}
