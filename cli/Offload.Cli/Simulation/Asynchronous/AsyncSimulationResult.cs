namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>The outcome of an asynchronous run.</summary>
/// <param name="Versions">One record per published version.</param>
/// <param name="Corrections">One entry per stale update sent to the corrector.</param>
/// <param name="FinalWeights">The last global model.</param>
/// <param name="WallSeconds">Wall time of the run.</param>
/// <param name="HistoryPeakBytes">Most bytes the server's window of past models held.</param>
/// <param name="HistoryWindow">Versions the window keeps.</param>
/// <param name="Dropped">Updates dropped because their base left the window.</param>
public sealed record AsyncSimulationResult(IReadOnlyList<VersionRecord> Versions, IReadOnlyList<CorrectionCost> Corrections,
    float[] FinalWeights, double WallSeconds, long HistoryPeakBytes, int HistoryWindow, long Dropped)
{
    /// <summary>Accuracy of the last evaluated version.</summary>
    public double FinalAccuracy => Versions.LastOrDefault(v => !double.IsNaN(v.Accuracy))?.Accuracy ?? double.NaN;

    /// <summary>Best accuracy over evaluated versions.</summary>
    public double BestAccuracy => Versions.Where(v => !double.IsNaN(v.Accuracy)).Select(v => v.Accuracy).DefaultIfEmpty(double.NaN).Max();
}
