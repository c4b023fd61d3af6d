namespace Offload.Aggregator.Rounds;

/// <summary>What a client asking for work is told.</summary>
public enum TaskOfferKind
{
    /// <summary>A task: train and submit.</summary>
    Assigned,

    /// <summary>Nothing now: ask again later.</summary>
    Wait,

    /// <summary>The federation has finished.</summary>
    Done,
}
