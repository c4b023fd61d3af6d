namespace Offload.Aggregator.Staleness;

/// <summary>What a staleness corrector did with an update.</summary>
public enum CorrectionOutcome
{
    /// <summary>Folded as it came (no correction, or a fresh update).</summary>
    Unchanged,

    /// <summary>Kept, with its weight scaled down by its staleness.</summary>
    Weighted,

    /// <summary>Replaced by a corrected update for the current model.</summary>
    Corrected,

    /// <summary>Correction was tried but failed its quality gate; a fall-back (usually weighting) was used.</summary>
    FellBack,
}
