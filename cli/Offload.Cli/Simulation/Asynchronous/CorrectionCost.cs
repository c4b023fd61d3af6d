using Offload.Aggregator.Staleness;

namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>What correcting one stale update cost and gave.</summary>
/// <param name="Version">The version the update was folded into.</param>
/// <param name="Client">The client.</param>
/// <param name="Staleness">Its staleness.</param>
/// <param name="Outcome">What the corrector did.</param>
/// <param name="CpuSeconds">CPU seconds of the correction on the worker thread.</param>
/// <param name="WallSeconds">Wall seconds of the correction.</param>
/// <param name="RelativeError">The quality gate's measure, for correctors that have one.</param>
public sealed record CorrectionCost(int Version, int Client, long Staleness, CorrectionOutcome Outcome, double CpuSeconds, double WallSeconds, double? RelativeError);
