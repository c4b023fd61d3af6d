namespace Offload.Aggregator.Events;

/// <summary>
/// The corrector app's account of one stale update, for the gateway: its correction queue drains by
/// these (devices are pushed back while too many wait), and its summary counts them per outcome.
/// </summary>
/// <param name="ClientId">The device that sent the update.</param>
/// <param name="TaskId">The task it answers.</param>
/// <param name="Outcome">What was done: <c>corrected</c>, <c>fell-back</c>, <c>weighted</c>, <c>unchanged</c> or <c>refused</c>.</param>
/// <param name="Staleness">Versions between its base and the model it was corrected towards.</param>
/// <param name="CpuSeconds">CPU seconds the correction took.</param>
public sealed record CorrectionReported(string ClientId, string TaskId, string Outcome, long Staleness, double CpuSeconds)
{
    /// <summary>The outcomes a report may name.</summary>
    public static IReadOnlyList<string> Outcomes { get; } = ["corrected", "fell-back", "weighted", "unchanged", "refused"];
}
