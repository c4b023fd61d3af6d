namespace Offload.Aggregator.Staleness;

/// <summary>
/// A corrector that only weights: its answer depends on the staleness alone, never on the base
/// model. It is what an update whose base model the server no longer holds (older than the window)
/// can still be given, so the asynchronous coordinator takes one as its fall-back.
/// </summary>
public interface IStalenessWeighting : IStalenessCorrector
{
    /// <summary>The factor on the aggregation weight of an update <paramref name="staleness"/> versions old, in (0, 1].</summary>
    /// <exception cref="ArgumentOutOfRangeException">The staleness is negative.</exception>
    double WeightOf(long staleness);
}
