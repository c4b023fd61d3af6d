namespace Offload.Aggregator.Asynchronous;

/// <summary>How the asynchronous coordinator folded one update.</summary>
public enum StalenessOutcome
{
    /// <summary>Computed from the current model: folded as it came.</summary>
    Fresh,

    /// <summary>Stale, replaced by the corrector's update for the current model.</summary>
    Corrected,

    /// <summary>Stale, folded as it came: the corrector (<c>none</c>) leaves stale updates alone.</summary>
    Unchanged,

    /// <summary>Stale, kept with its weight scaled down by its staleness (the corrector is a weighting, or the update was too young to correct).</summary>
    Weighted,

    /// <summary>Stale, the correction failed (its quality gate, an error, or a result that was not finite): the fall-back weighted it.</summary>
    FellBack,

    /// <summary>Older than the window of base models: the fall-back weighted it, since nothing could correct it.</summary>
    BeyondWindow,

    /// <summary>Could not be read or decoded at folding: counted as an arrival, nothing folded.</summary>
    Refused,
}
