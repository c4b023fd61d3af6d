namespace Offload.Aggregator.Rounds;

/// <summary>Whether a client may submit an update for a task now.</summary>
public enum SubmissionCheck
{
    /// <summary>The client holds the task and its round still takes updates.</summary>
    Open,

    /// <summary>The task does not exist or another client holds it.</summary>
    NotHeld,

    /// <summary>The task's round no longer takes updates (closed, quorum reserved, or past its deadline).</summary>
    RoundClosed,

    /// <summary>An update for the task was already reserved.</summary>
    AlreadySubmitted,

    /// <summary>
    /// The coordinator cannot take the update now without losing it (its correction queue is full):
    /// the gateway pushes back, and the device sends it again after a delay.
    /// </summary>
    Busy,
}
