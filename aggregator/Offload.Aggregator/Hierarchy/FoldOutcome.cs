namespace Offload.Aggregator.Hierarchy;

/// <summary>What happened to one input offered to an aggregator.</summary>
public enum FoldOutcome
{
    /// <summary>Added to the running sum.</summary>
    Folded,

    /// <summary>Already folded under the same contribution id (at-least-once delivery); counted once.</summary>
    Duplicate,

    /// <summary>The aggregator had already emitted its partial: the caller must route the input elsewhere (next round or the asynchronous path).</summary>
    Late,
}
