using Offload.Core.Federation;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// FedProx (Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020): FedAvg's
/// server, and clients that minimise their loss plus (mu / 2) * ||w - w_global||^2. The proximal weight
/// travels to devices in every task (<see cref="TrainingOptions.ProximalMu"/>), and the client SDK's
/// trainer adds the term to its loss.
/// </summary>
public sealed class FedProx : FedAvg
{
    /// <summary>Creates the strategy.</summary>
    /// <exception cref="ArgumentOutOfRangeException">mu is negative or not finite, or eta is not positive and finite.</exception>
    public FedProx(double proximalMu = 0.01, double serverLearningRate = 1.0) : base(serverLearningRate)
    {
        if (!(proximalMu >= 0) || !double.IsFinite(proximalMu))
            throw new ArgumentOutOfRangeException("mu", proximalMu, "mu must be zero or positive, and finite.");
        ProximalMu = proximalMu;
    }

    /// <summary>mu.</summary>
    public double ProximalMu { get; }

    /// <inheritdoc/>
    public override string Name => StrategySettings.Format("fedprox", ("mu", ProximalMu), ("eta", ServerLearningRate));

    /// <inheritdoc/>
    public override TrainingOptions Configure(long round, TrainingOptions defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        return defaults with { ProximalMu = ProximalMu };
    }
}
