namespace Offload.Client.Federation;

/// <summary>A round this client gave up on without uploading, and why; it asked for the next task after a backoff.</summary>
/// <param name="Round">The round.</param>
/// <param name="ModelVersion">The model version the task named.</param>
/// <param name="Reason">What went wrong.</param>
/// <param name="Detail">The error's message.</param>
/// <param name="Retry">How long the client waits before asking for a task again.</param>
public sealed record SkippedRound(long Round, long ModelVersion, SkipReason Reason, string Detail, TimeSpan Retry);
