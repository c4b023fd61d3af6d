namespace Offload.Functions.Rounds;

/// <summary>How a round took an input offered to it.</summary>
public enum FoldStatus
{
    /// <summary>Registered for the first time.</summary>
    Accepted,

    /// <summary>Registered before (at-least-once delivery); counted once.</summary>
    Duplicate,

    /// <summary>
    /// Registered before, and its aggregator is being emitted by another function that has not delivered
    /// yet: ask again later (redelivery), and take the aggregator over if that function's lease runs out.
    /// </summary>
    Held,

    /// <summary>Its aggregator already emitted, or the round is full or published: not part of this round.</summary>
    Late,

    /// <summary>No round is open under that number: a poisoned event.</summary>
    UnknownRound,

    /// <summary>The input does not fit the round (unexpected client, no such aggregator): a poisoned event.</summary>
    Invalid,
}
