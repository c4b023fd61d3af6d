using System.Numerics.Tensors;

namespace Offload.Aggregator.Strategies;

/// <summary>FedAdam (Reddi et al. 2021): v = beta2 * v + (1 - beta2) * Delta^2.</summary>
public sealed class FedAdam : AdaptiveOptimizer
{
    /// <summary>Creates the optimiser; the defaults follow the paper (beta1 0.9, beta2 0.99, tau 1e-3) with eta 0.03 (tuned on Fashion-MNIST, alpha 0.1: docs/benchmarks.md).</summary>
    public FedAdam(double serverLearningRate = 0.03, double beta1 = 0.9, double beta2 = 0.99, double tau = 1e-3, bool biasCorrection = false)
        : base(serverLearningRate, beta1, beta2, tau, biasCorrection)
    {
    }

    /// <inheritdoc/>
    protected override string BaseName => "fedadam";

    /// <inheritdoc/>
    protected override void UpdateSecondMoment(Span<float> v, ReadOnlySpan<float> squared)
    {
        TensorPrimitives.Multiply(v, (float)Beta2, v);
        TensorPrimitives.MultiplyAdd(squared, (float)(1 - Beta2), v, v);
    }
}
