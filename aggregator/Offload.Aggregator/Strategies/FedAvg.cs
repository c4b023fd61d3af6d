using Offload.Aggregator.Kernels;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// Federated Averaging (McMahan et al., "Communication-Efficient Learning of Deep Networks from
/// Decentralized Data", AISTATS 2017): updates weighted by sample count, x += eta * mean, with the
/// server learning rate eta = 1 reproducing the paper. Stateless.
/// </summary>
public class FedAvg : AggregationStrategy
{
    /// <summary>Creates the strategy.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The server learning rate is not positive and finite.</exception>
    public FedAvg(double serverLearningRate = 1.0)
    {
        StrategySettings.RequirePositive(serverLearningRate, "eta");
        ServerLearningRate = serverLearningRate;
    }

    /// <summary>Scale of the server's step along the mean update (eta).</summary>
    public double ServerLearningRate { get; }

    /// <inheritdoc/>
    public override string Name => ServerLearningRate == 1.0 ? "fedavg" : StrategySettings.Format("fedavg", ("eta", ServerLearningRate));

    /// <inheritdoc/>
    protected override void Step(ReadOnlySpan<float> aggregatedUpdate, Span<float> globalWeights, ServerState state) =>
        AggregationKernels.ApplyStep(globalWeights, aggregatedUpdate, (float)ServerLearningRate);
}
