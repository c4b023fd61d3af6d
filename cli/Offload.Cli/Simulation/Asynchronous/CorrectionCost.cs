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
/// <param name="FoldedErrorVsFresh">
/// Diagnostic (simulation only, needs the client's data): ||fresh - s * folded|| / ||fresh||, where fresh is
/// the update the client would have sent from the current model and s * folded what was folded in
/// its place (scale included); null unless measured.
/// </param>
/// <param name="StaleErrorVsFresh">The same measure for the raw stale update; null unless measured.</param>
public sealed record CorrectionCost(int Version, int Client, long Staleness, CorrectionOutcome Outcome, double CpuSeconds, double WallSeconds,
    double? RelativeError, double? FoldedErrorVsFresh = null, double? StaleErrorVsFresh = null);
