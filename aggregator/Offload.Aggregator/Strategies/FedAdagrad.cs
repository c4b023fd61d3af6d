using System.Numerics.Tensors;

namespace Offload.Aggregator.Strategies;

/// <summary>FedAdagrad (Reddi et al. 2021): v = v + Delta^2.</summary>
public sealed class FedAdagrad : AdaptiveOptimizer
{
    /// <summary>Creates the optimiser; the defaults follow the paper's grid (beta1 0.9, tau 1e-3) with eta 0.1.</summary>
    public FedAdagrad(double serverLearningRate = 0.1, double beta1 = 0.9, double tau = 1e-3)
        : base(serverLearningRate, beta1, 0, tau)
    {
    }

    /// <inheritdoc/>
    public override string Name => StrategySettings.Format(BaseName, ("eta", ServerLearningRate), ("beta1", Beta1), ("tau", Tau));

    /// <inheritdoc/>
    protected override string BaseName => "fedadagrad";

    /// <inheritdoc/>
    protected override void UpdateSecondMoment(Span<float> v, ReadOnlySpan<float> squared) => TensorPrimitives.Add(v, squared, v);
}
