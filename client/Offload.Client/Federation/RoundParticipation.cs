namespace Offload.Client.Federation;

/// <summary>One round this client trained and submitted in.</summary>
/// <param name="Round">The round.</param>
/// <param name="ModelVersion">The version it trained from.</param>
/// <param name="SampleCount">Samples it trained on.</param>
/// <param name="MeanLoss">Mean training loss of the last local epoch.</param>
/// <param name="Receipt">The gateway's acknowledgement.</param>
/// <param name="TrainSeconds">Local training time.</param>
public sealed record RoundParticipation(long Round, long ModelVersion, int SampleCount, double MeanLoss, UploadReceipt Receipt, double TrainSeconds);
