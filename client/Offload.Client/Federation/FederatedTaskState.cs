namespace Offload.Client.Federation;

/// <summary>What the gateway answered when asked for work.</summary>
public enum FederatedTaskState
{
    /// <summary>A task to train and submit.</summary>
    Assigned,

    /// <summary>No task now; ask again after <see cref="FederatedTask.RetryAfter"/>.</summary>
    Wait,

    /// <summary>The federation has finished.</summary>
    Done,
}
