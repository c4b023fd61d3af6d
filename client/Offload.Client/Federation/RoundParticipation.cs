namespace Offload.Client.Federation;

/// <summary>One round this client trained and submitted in.</summary>
/// <param name="Round">The round.</param>
/// <param name="ModelVersion">The version it trained from.</param>
/// <param name="SampleCount">Samples it trained on.</param>
/// <param name="MeanLoss">Mean training loss of the last local epoch.</param>
/// <param name="Receipt">The gateway's acknowledgement.</param>
/// <param name="TrainSeconds">Local training time.</param>
/// <param name="DownloadBytes">Model bytes downloaded for the round (see <see cref="ModelDownload.Bytes"/>).</param>
/// <param name="DownloadedDelta">Whether the model came as an encoded change rather than full weights.</param>
/// <param name="Evaluation">The task's model scored on this client's data before training (when the task asked for federated evaluation).</param>
public sealed record RoundParticipation(long Round, long ModelVersion, int SampleCount, double MeanLoss, UploadReceipt Receipt, double TrainSeconds,
    long DownloadBytes = 0, bool DownloadedDelta = false, Training.EvaluationResult? Evaluation = null);
