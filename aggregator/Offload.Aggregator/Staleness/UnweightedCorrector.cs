namespace Offload.Aggregator.Staleness;

/// <summary>No staleness handling: every update is folded as it came, at full weight.</summary>
public sealed class UnweightedCorrector : IStalenessCorrector
{
    /// <inheritdoc/>
    public string Name => "unweighted";

    /// <inheritdoc/>
    public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        return StalenessCorrection.Unchanged(update.Delta);
    }
}
