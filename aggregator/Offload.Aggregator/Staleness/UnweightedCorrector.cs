namespace Offload.Aggregator.Staleness;

/// <summary>No staleness handling: every update is folded as it came, at full weight.</summary>
public sealed class UnweightedCorrector : IStalenessWeighting
{
    /// <inheritdoc/>
    public string Name => "unweighted";

    /// <inheritdoc/>
    public double WeightOf(long staleness)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(staleness);
        return 1.0;
    }

    /// <inheritdoc/>
    public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        return StalenessCorrection.Unchanged(update.Delta);
    }
}
