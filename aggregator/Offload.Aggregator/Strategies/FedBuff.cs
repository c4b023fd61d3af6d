namespace Offload.Aggregator.Strategies;

/// <summary>
/// Buffered asynchronous aggregation (Nguyen et al., "Federated Learning with Buffered Asynchronous
/// Aggregation", AISTATS 2022): clients train whenever they can, and the server steps every
/// <see cref="BufferSize"/> arrivals. Weights and the server step are FedAvg's; staleness is
/// handled outside the strategy, by an <see cref="Staleness.IStalenessCorrector"/> whose scale the
/// aggregator applies (FedBuff's own choice is the polynomial weight with a = 0.5).
/// </summary>
public sealed class FedBuff : FedAvg
{
    /// <summary>Creates the strategy.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The buffer size is below 1 or the server learning rate is not positive and finite.</exception>
    public FedBuff(int bufferSize, double serverLearningRate = 1.0) : base(serverLearningRate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 1);
        BufferSize = bufferSize;
    }

    /// <summary>Arrivals per server step (K).</summary>
    public int BufferSize { get; }

    /// <inheritdoc/>
    public override string Name => StrategySettings.Format("fedbuff", ("k", BufferSize), ("eta", ServerLearningRate));
}
