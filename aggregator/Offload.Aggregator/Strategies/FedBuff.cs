using Offload.Aggregator.Staleness;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// Buffered asynchronous aggregation (Nguyen et al., "Federated Learning with Buffered Asynchronous
/// Aggregation", AISTATS 2022): clients train whenever they can, and the server steps every
/// <see cref="BufferSize"/> arrivals. Weights and the server step are FedAvg's. Staleness is either
/// handled outside the strategy, by an <see cref="IStalenessCorrector"/> whose scale the aggregator
/// applies (in process), or by the strategy's own staleness weighting, <see cref="ScaleOf"/>, which
/// travels with the strategy's name to the Dapr functions: FedAsync's polynomial weight
/// (<c>poly=a</c>; FedBuff's own choice is a = 0.5) or its hinge (<c>hinge=a,b=B</c>).
/// </summary>
public sealed class FedBuff : FedAvg
{
    /// <summary>Creates the strategy.</summary>
    /// <param name="bufferSize">Arrivals per server step (K).</param>
    /// <param name="serverLearningRate">Scale of the server's step.</param>
    /// <param name="polynomial">FedAsync's polynomial exponent a: scale (1 + tau)^-a; 0 leaves updates unweighted.</param>
    /// <param name="hinge">FedAsync's hinge slope a: scale 1 / (a (tau - b) + 1) past <paramref name="hingeThreshold"/>; 0: no hinge.</param>
    /// <param name="hingeThreshold">The hinge's b: staleness up to which updates keep full weight.</param>
    /// <exception cref="ArgumentOutOfRangeException">The buffer size is below 1, the server learning rate is not positive and finite, a weighting setting is negative or not finite, or both weightings are chosen.</exception>
    public FedBuff(int bufferSize, double serverLearningRate = 1.0, double polynomial = 0, double hinge = 0, long hingeThreshold = 4) : base(serverLearningRate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 1);
        StalenessKernels.Polynomial(0, polynomial); // Validates.
        StalenessKernels.Hinge(0, hinge, hingeThreshold);
        if (polynomial > 0 && hinge > 0)
            throw new ArgumentOutOfRangeException(nameof(hinge), hinge, "Choose one staleness weighting: poly or hinge, not both.");
        BufferSize = bufferSize;
        Polynomial = polynomial;
        Hinge = hinge;
        HingeThreshold = hingeThreshold;
    }

    /// <summary>Arrivals per server step (K).</summary>
    public int BufferSize { get; }

    /// <summary>The polynomial weighting's exponent; 0 when unused.</summary>
    public double Polynomial { get; }

    /// <summary>The hinge weighting's slope; 0 when unused.</summary>
    public double Hinge { get; }

    /// <summary>The hinge weighting's threshold b.</summary>
    public long HingeThreshold { get; }

    /// <inheritdoc/>
    public override string Name => (Polynomial, Hinge) switch
    {
        ( > 0, _) => StrategySettings.Format("fedbuff", ("k", BufferSize), ("eta", ServerLearningRate), ("poly", Polynomial)),
        (_, > 0) => StrategySettings.Format("fedbuff", ("k", BufferSize), ("eta", ServerLearningRate), ("hinge", Hinge), ("b", HingeThreshold)),
        _ => StrategySettings.Format("fedbuff", ("k", BufferSize), ("eta", ServerLearningRate)),
    };

    /// <inheritdoc/>
    public override double ScaleOf(UpdateReceipt receipt)
    {
        long staleness = receipt.Staleness;
        if (Polynomial > 0) return StalenessKernels.Polynomial(staleness, Polynomial);
        if (Hinge > 0) return StalenessKernels.Hinge(staleness, Hinge, HingeThreshold);
        return 1.0;
    }
}
