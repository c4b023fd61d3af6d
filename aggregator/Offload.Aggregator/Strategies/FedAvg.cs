using Offload.Aggregator.Kernels;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// Federated Averaging (McMahan et al., "Communication-Efficient Learning of Deep Networks from
/// Decentralized Data", AISTATS 2017): updates weighted by sample count, the mean applied with a
/// server learning rate (1 reproduces the paper; other values give FedAvgM-free server step sizes).
/// </summary>
public class FedAvg : IAggregationStrategy
{
    /// <summary>Creates the strategy.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The server learning rate is not positive and finite.</exception>
    public FedAvg(double serverLearningRate = 1.0)
    {
        if (!(serverLearningRate > 0) || !double.IsFinite(serverLearningRate))
            throw new ArgumentOutOfRangeException(nameof(serverLearningRate), serverLearningRate, "The server learning rate must be positive and finite.");
        ServerLearningRate = serverLearningRate;
    }

    /// <summary>Scale of the server's step along the mean update.</summary>
    public double ServerLearningRate { get; }

    /// <inheritdoc/>
    public virtual string Name => "fedavg";

    /// <inheritdoc/>
    public virtual double WeightOf(UpdateReceipt receipt)
    {
        if (receipt.SampleCount <= 0)
            throw new ArgumentOutOfRangeException(nameof(receipt), receipt.SampleCount, "An update must come from at least one sample.");
        return receipt.SampleCount;
    }

    /// <inheritdoc/>
    public virtual void Apply(ReadOnlySpan<float> meanUpdate, Span<float> globalWeights) =>
        AggregationKernels.ApplyStep(globalWeights, meanUpdate, (float)ServerLearningRate);
}
