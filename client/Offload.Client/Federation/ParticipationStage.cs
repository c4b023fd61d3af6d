namespace Offload.Client.Federation;

/// <summary>What <see cref="FederatedClient.ParticipateAsync"/> is doing.</summary>
public enum ParticipationStage
{
    /// <summary>Asking for a task, or waiting to ask again.</summary>
    WaitingForTask,

    /// <summary>Downloading the global model.</summary>
    Downloading,

    /// <summary>Training locally.</summary>
    Training,

    /// <summary>Uploading the update.</summary>
    Uploading,

    /// <summary>The update was acknowledged.</summary>
    Submitted,

    /// <summary>The federation finished.</summary>
    Done,

    /// <summary>The round was given up without an upload (bad model, diverged training, failed encoding); see <see cref="ParticipationProgress.Skipped"/>.</summary>
    Skipped,
}
