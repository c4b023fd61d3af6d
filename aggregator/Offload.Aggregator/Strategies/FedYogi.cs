namespace Offload.Aggregator.Strategies;

/// <summary>
/// FedYogi (Reddi et al. 2021; Zaheer et al. 2018): v = v - (1 - beta2) * Delta^2 * sign(v - Delta^2),
/// so v moves towards Delta^2 additively rather than geometrically, which keeps a large step from
/// collapsing v the way Adam's average does.
/// </summary>
public sealed class FedYogi : AdaptiveOptimizer
{
    /// <summary>Creates the optimiser; the defaults follow the paper (beta1 0.9, beta2 0.99, tau 1e-3) with eta 0.03 (as FedAdam).</summary>
    public FedYogi(double serverLearningRate = 0.03, double beta1 = 0.9, double beta2 = 0.99, double tau = 1e-3, bool biasCorrection = false)
        : base(serverLearningRate, beta1, beta2, tau, biasCorrection)
    {
    }

    /// <inheritdoc/>
    protected override string BaseName => "fedyogi";

    /// <inheritdoc/>
    protected override void UpdateSecondMoment(Span<float> v, ReadOnlySpan<float> squared)
    {
        float rate = (float)(1 - Beta2);
        squared = squared[..v.Length]; // One length for both: the JIT drops the bounds checks.
        for (int i = 0; i < v.Length; i++)
        {
            float s = squared[i];
            float difference = v[i] - s;
            // sign(0) = 0: v already equals Delta^2 and stays.
            v[i] -= rate * s * (difference > 0 ? 1f : difference < 0 ? -1f : 0f);
        }
    }
}
