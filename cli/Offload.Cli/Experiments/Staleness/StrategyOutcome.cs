using Offload.Cli.Simulation.Asynchronous;

namespace Offload.Cli.Experiments.Staleness;

/// <summary>One strategy's run at one staleness.</summary>
/// <param name="Tau">The staleness of the delayed clients.</param>
/// <param name="Strategy">The strategy's name.</param>
/// <param name="Result">The run.</param>
/// <param name="FallBackRate">Fraction of stale updates whose correction failed the gate (0 for correctors without one).</param>
/// <param name="WarmStartBytes">Bytes of per-client recovered data held at the end (inversion only).</param>
public sealed record StrategyOutcome(int Tau, string Strategy, AsyncSimulationResult Result, double FallBackRate, long WarmStartBytes);
