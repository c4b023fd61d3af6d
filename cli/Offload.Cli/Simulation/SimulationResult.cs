namespace Offload.Cli.Simulation;

/// <summary>The outcome of a whole simulation, as summary.json reports it.</summary>
/// <param name="Rounds">One record per round, in order.</param>
/// <param name="FinalWeights">The last global model.</param>
/// <param name="WallSeconds">Wall time of the whole run (setup excluded).</param>
/// <param name="PeakWorkingSetBytes">The process's peak resident memory when the run ended.</param>
public sealed record SimulationResult(IReadOnlyList<RoundRecord> Rounds, float[] FinalWeights, double WallSeconds, long PeakWorkingSetBytes)
{
    /// <summary>Accuracy after the last round.</summary>
    public double FinalAccuracy => Rounds.Count == 0 ? 0 : Rounds[^1].Accuracy;

    /// <summary>Best accuracy over all rounds.</summary>
    public double BestAccuracy
    {
        get
        {
            double best = 0;
            foreach (var r in Rounds) best = Math.Max(best, r.Accuracy);
            return best;
        }
    }
}
