using System.Buffers;
using System.Numerics.Tensors;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// The adaptive server optimisers of Reddi et al., "Adaptive Federated Optimization" (ICLR 2021),
/// Algorithm 2, with Delta the aggregated update:
/// m = beta1 * m + (1 - beta1) * Delta; v from <see cref="UpdateSecondMoment"/>; x += eta * m / (sqrt(v) + tau).
/// As in the paper, v starts at tau^2 and there is no bias correction unless asked for
/// (<see cref="BiasCorrection"/>, Adam's m / (1 - beta1^t) and v / (1 - beta2^t)). The moments are
/// the server state vectors <c>m</c> and <c>v</c>. FedAdagrad, FedAdam and FedYogi differ only in the second moment.
/// </summary>
/// <remarks>
/// Without correction, m and v start small, and the step is larger than eta's by
/// (1 - beta1^t) / sqrt(1 - beta2^t): 1 at the first round, about 2 from round 5 to 30 with the
/// defaults, falling to 1 over hundreds of rounds. Correction keeps it at eta throughout.
/// </remarks>
public abstract class AdaptiveOptimizer : AggregationStrategy
{
    /// <summary>Creates the optimiser.</summary>
    /// <exception cref="ArgumentOutOfRangeException">eta or tau is not positive and finite, or a beta is outside [0, 1).</exception>
    protected AdaptiveOptimizer(double serverLearningRate, double beta1, double beta2, double tau, bool biasCorrection = false)
    {
        StrategySettings.RequirePositive(serverLearningRate, "eta");
        StrategySettings.RequireFraction(beta1, "beta1");
        StrategySettings.RequireFraction(beta2, "beta2");
        StrategySettings.RequirePositive(tau, "tau");
        ServerLearningRate = serverLearningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Tau = tau;
        BiasCorrection = biasCorrection;
    }

    /// <summary>Whether the moments are divided by (1 - beta^t), as Adam does (the paper does not).</summary>
    public bool BiasCorrection { get; }

    /// <summary>eta, the server learning rate.</summary>
    public double ServerLearningRate { get; }

    /// <summary>beta1, the first moment's decay.</summary>
    public double Beta1 { get; }

    /// <summary>beta2, the second moment's decay (unused by FedAdagrad).</summary>
    public double Beta2 { get; }

    /// <summary>tau, the adaptivity (and v's initial square root).</summary>
    public double Tau { get; }

    /// <summary>The registry name without settings.</summary>
    protected abstract string BaseName { get; }

    /// <inheritdoc/>
    public override string Name => BiasCorrection
        ? StrategySettings.Format(BaseName, ("eta", ServerLearningRate), ("beta1", Beta1), ("beta2", Beta2), ("tau", Tau), ("bias", 1))
        : StrategySettings.Format(BaseName, ("eta", ServerLearningRate), ("beta1", Beta1), ("beta2", Beta2), ("tau", Tau));

    /// <summary>Updates <paramref name="v"/> in place from <paramref name="squared"/> = Delta^2, element by element.</summary>
    protected abstract void UpdateSecondMoment(Span<float> v, ReadOnlySpan<float> squared);

    /// <inheritdoc/>
    protected override void Step(ReadOnlySpan<float> aggregatedUpdate, Span<float> globalWeights, ServerState state)
    {
        int n = globalWeights.Length;
        var m = state.Vector("m", n);
        var v = state.Vector("v", n, (float)(Tau * Tau));
        float[] rented = ArrayPool<float>.Shared.Rent(n);
        try
        {
            var scratch = rented.AsSpan(0, n);
            TensorPrimitives.Multiply(m, (float)Beta1, m);
            TensorPrimitives.MultiplyAdd(aggregatedUpdate, (float)(1 - Beta1), m, m);
            TensorPrimitives.Multiply(aggregatedUpdate, aggregatedUpdate, scratch);
            UpdateSecondMoment(v, scratch);
            // eta * (m / c1) / (sqrt(v / c2) + tau), with c = 1 - beta^t (both 1 without correction).
            long t = state.Rounds + 1;
            double c1 = BiasCorrection ? 1 - Math.Pow(Beta1, t) : 1;
            double c2 = BiasCorrection ? 1 - Math.Pow(Beta2, t) : 1;
            TensorPrimitives.Sqrt(v, scratch);
            if (BiasCorrection) TensorPrimitives.Multiply(scratch, (float)(1 / Math.Sqrt(c2)), scratch);
            TensorPrimitives.Add(scratch, (float)Tau, scratch);
            TensorPrimitives.Divide(m, scratch, scratch);
            TensorPrimitives.MultiplyAdd(scratch, (float)(ServerLearningRate / c1), globalWeights, globalWeights);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }
}
