namespace Offload.Aggregator.Staleness;

/// <summary>A correction done by <see cref="CorrectionQueue"/>, with what it cost.</summary>
/// <param name="Correction">The corrector's answer.</param>
/// <param name="CpuSeconds">CPU time of the worker thread during the correction (wall time where thread CPU time is unavailable).</param>
/// <param name="WallSeconds">Wall time of the correction itself.</param>
/// <param name="QueueSeconds">Wall time the update waited in the queue before the worker took it.</param>
public sealed record CorrectedUpdate(StalenessCorrection Correction, double CpuSeconds, double WallSeconds, double QueueSeconds);
