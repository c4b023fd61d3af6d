namespace Offload.Aggregator.Staleness;

/// <summary>
/// FedAsync's hinge staleness weighting (Xie et al. 2019): full weight up to b versions of
/// staleness, then 1 / (a (tau - b) + 1).
/// </summary>
public sealed class HingeStalenessWeighting : IStalenessWeighting
{
    /// <summary>Creates the weighting (FedAsync's experiments use a = 10, b = 4).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The slope is negative or not finite, or the threshold is negative.</exception>
    public HingeStalenessWeighting(double slope = 10, long threshold = 4)
    {
        StalenessKernels.Hinge(0, slope, threshold); // Validates.
        Slope = slope;
        Threshold = threshold;
    }

    /// <summary>The slope a.</summary>
    public double Slope { get; }

    /// <summary>The staleness b up to which updates keep full weight.</summary>
    public long Threshold { get; }

    /// <inheritdoc/>
    public string Name => "fedasync-hinge";

    /// <inheritdoc/>
    public double WeightOf(long staleness) => StalenessKernels.Hinge(staleness, Slope, Threshold);

    /// <inheritdoc/>
    public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        double scale = StalenessKernels.Hinge(update.Staleness, Slope, Threshold);
        return scale == 1.0 ? StalenessCorrection.Unchanged(update.Delta) : StalenessCorrection.Weighted(update.Delta, scale);
    }
}
