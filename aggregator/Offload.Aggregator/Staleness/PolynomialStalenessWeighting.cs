namespace Offload.Aggregator.Staleness;

/// <summary>
/// FedAsync's polynomial staleness weighting (Xie et al. 2019): the update is kept and its weight
/// multiplied by (1 + tau)^-a. With a = 0.5 this is also FedBuff's default (Nguyen et al. 2022).
/// </summary>
public sealed class PolynomialStalenessWeighting : IStalenessWeighting
{
    /// <summary>Creates the weighting.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The exponent is negative or not finite.</exception>
    public PolynomialStalenessWeighting(double exponent = 0.5)
    {
        StalenessKernels.Polynomial(0, exponent); // Validates.
        Exponent = exponent;
    }

    /// <summary>The exponent a.</summary>
    public double Exponent { get; }

    /// <inheritdoc/>
    public string Name => "fedasync-poly";

    /// <inheritdoc/>
    public double WeightOf(long staleness) => StalenessKernels.Polynomial(staleness, Exponent);

    /// <inheritdoc/>
    public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        return update.Staleness == 0
            ? StalenessCorrection.Unchanged(update.Delta)
            : StalenessCorrection.Weighted(update.Delta, StalenessKernels.Polynomial(update.Staleness, Exponent));
    }
}
