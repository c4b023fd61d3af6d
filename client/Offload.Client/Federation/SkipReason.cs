namespace Offload.Client.Federation;

/// <summary>Why <see cref="FederatedClient.ParticipateAsync"/> skipped a round without uploading.</summary>
public enum SkipReason
{
    /// <summary>The downloaded model was unusable: not finite, or not the task's model.</summary>
    InvalidModel,

    /// <summary>Local training diverged: a non-finite loss or update.</summary>
    TrainingDiverged,

    /// <summary>The update could not be encoded.</summary>
    EncodingFailed,
}
