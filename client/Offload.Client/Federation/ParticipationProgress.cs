namespace Offload.Client.Federation;

/// <summary>A step of <see cref="FederatedClient.ParticipateAsync"/>, for a device app's UI.</summary>
/// <param name="Stage">What is happening.</param>
/// <param name="Round">The round it concerns (0 before the first task).</param>
/// <param name="Upload">Upload progress while <see cref="ParticipationStage.Uploading"/>.</param>
/// <param name="Completed">The round's result at <see cref="ParticipationStage.Submitted"/>.</param>
/// <param name="Skipped">Why the round was given up at <see cref="ParticipationStage.Skipped"/>.</param>
public sealed record ParticipationProgress(ParticipationStage Stage, long Round, UploadProgress? Upload = null, RoundParticipation? Completed = null,
    SkippedRound? Skipped = null);
