using System.Numerics.Tensors;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// FedAvg with server momentum (Hsu, Qi and Brown, "Measuring the Effects of Non-Identical Data
/// Distribution for Federated Visual Classification", 2019): v = beta * v + mean, x += eta * v.
/// The momentum v is the server state vector <c>momentum</c>.
/// </summary>
public sealed class FedAvgM : AggregationStrategy
{
    /// <summary>Creates the strategy.</summary>
    /// <exception cref="ArgumentOutOfRangeException">eta is not positive and finite, or beta is outside [0, 1).</exception>
    public FedAvgM(double serverLearningRate = 1.0, double momentum = 0.9)
    {
        StrategySettings.RequirePositive(serverLearningRate, "eta");
        StrategySettings.RequireFraction(momentum, "beta");
        ServerLearningRate = serverLearningRate;
        Momentum = momentum;
    }

    /// <summary>eta.</summary>
    public double ServerLearningRate { get; }

    /// <summary>beta.</summary>
    public double Momentum { get; }

    /// <inheritdoc/>
    public override string Name => StrategySettings.Format("fedavgm", ("eta", ServerLearningRate), ("beta", Momentum));

    /// <inheritdoc/>
    protected override void Step(ReadOnlySpan<float> aggregatedUpdate, Span<float> globalWeights, ServerState state)
    {
        var v = state.Vector("momentum", globalWeights.Length);
        TensorPrimitives.MultiplyAdd(v, (float)Momentum, aggregatedUpdate, v);
        TensorPrimitives.MultiplyAdd(v, (float)ServerLearningRate, globalWeights, globalWeights);
    }
}
