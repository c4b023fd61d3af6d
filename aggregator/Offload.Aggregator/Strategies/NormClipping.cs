using System.Numerics.Tensors;
using Offload.Core.Federation;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// Norm clipping around any sum-decomposable strategy: each update is scaled down to an L2 norm of at
/// most <see cref="MaxNorm"/> before it is folded (u * min(1, C / ||u||)), which bounds what one
/// device, scaled or noisy, can move the sum by (Sun et al., "Can You Really Backdoor Federated
/// Learning?", 2019). Everything else is the inner strategy's, so it still folds eagerly through the
/// tree. The bound C is an absolute norm: set it near the honest updates' norms (the round summary's
/// update norm is a guide).
/// </summary>
public sealed class NormClipping : AggregationStrategy
{
    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <exception cref="ArgumentException">The inner strategy is robust (it sees individual updates already) or itself clipped.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The bound is not positive and finite.</exception>
    public NormClipping(AggregationStrategy inner, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (inner.Kind != AggregationKind.SumDecomposable || inner.PreparesUpdates)
            throw new ArgumentException($"Norm clipping wraps a sum-decomposable strategy that does not prepare updates itself; '{inner.Name}' is not one.", nameof(inner));
        StrategySettings.RequirePositive(maxNorm, "clip");
        Inner = inner;
        MaxNorm = maxNorm;
    }

    /// <summary>The wrapped strategy.</summary>
    public AggregationStrategy Inner { get; }

    /// <summary>C, the largest L2 norm an update keeps.</summary>
    public double MaxNorm { get; }

    /// <inheritdoc/>
    public override string Name => Inner.Name + (Inner.Name.Contains(':') ? "," : ":") + "clip=" + MaxNorm.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    /// <inheritdoc/>
    public override bool PreparesUpdates => true;

    /// <inheritdoc/>
    public override TrainingOptions Configure(long round, TrainingOptions defaults) => Inner.Configure(round, defaults);

    /// <inheritdoc/>
    public override double WeightOf(UpdateReceipt receipt) => Inner.WeightOf(receipt);

    /// <inheritdoc/>
    public override double ScaleOf(UpdateReceipt receipt) => Inner.ScaleOf(receipt);

    /// <inheritdoc/>
    public override void PrepareUpdate(Span<float> update)
    {
        float norm = TensorPrimitives.Norm(update);
        if (norm > MaxNorm) TensorPrimitives.Multiply(update, (float)(MaxNorm / norm), update);
    }

    /// <inheritdoc/>
    protected override void Step(ReadOnlySpan<float> aggregatedUpdate, Span<float> globalWeights, ServerState state) =>
        Inner.StepWith(aggregatedUpdate, globalWeights, state);
}
