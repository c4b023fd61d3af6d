namespace Offload.Aggregator.Staleness;

/// <summary>
/// First-order delay compensation after DC-ASGD (Zheng et al., ICML 2017), applied to a whole
/// update: delta - lambda * delta ⊙ delta ⊙ (w_t - w_{t-tau}), where the outer product of the
/// gradient with itself stands in for the Hessian. Needs the base model, so it only works while
/// the base version is still in the server's window of past models.
/// </summary>
public sealed class DcAsgdCorrector : IStalenessCorrector
{
    /// <summary>Creates the corrector.</summary>
    /// <exception cref="ArgumentOutOfRangeException">lambda is negative or not finite.</exception>
    public DcAsgdCorrector(double lambda)
    {
        if (!(lambda >= 0) || !double.IsFinite(lambda))
            throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "lambda must be non-negative and finite.");
        Lambda = lambda;
    }

    /// <summary>The variance-control factor lambda, in update units (lambda_gradient / eta).</summary>
    public double Lambda { get; }

    /// <inheritdoc/>
    public string Name => "dc-asgd";

    /// <inheritdoc/>
    public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (update.Staleness == 0) return StalenessCorrection.Unchanged(update.Delta);
        var corrected = new float[update.Delta.Length];
        StalenessKernels.DcAsgd(update.Delta.Span, update.CurrentWeights.Span, update.BaseWeights.Span, (float)Lambda, corrected);
        return StalenessCorrection.Corrected(corrected);
    }
}
