namespace Offload.Aggregator.Asynchronous;

/// <summary>What the asynchronous coordinator did with the updates so far: counts per outcome, staleness, correction costs, memory.</summary>
/// <param name="Corrector">The corrector's name.</param>
/// <param name="Fallback">The fall-back weighting's name.</param>
/// <param name="Outcomes">Updates per outcome.</param>
/// <param name="MaxStaleness">The largest staleness folded.</param>
/// <param name="MeanStaleness">Mean staleness of the folded updates.</param>
/// <param name="CorrectionCpuSeconds">CPU seconds of each correction the queue ran, in completion order.</param>
/// <param name="CorrectionQueueSeconds">Seconds each of them waited in the queue.</param>
/// <param name="HistoryWindow">Models the window holds at most, the current one included.</param>
/// <param name="HistoryPeakBytes">Most bytes of models the window held at once.</param>
/// <param name="Ignored">Update events that matched no reservation (a duplicate delivery, or after the end), dropped.</param>
/// <param name="ByClient">Per device, in the order they first folded.</param>
public sealed record AsynchronousStatistics(string Corrector, string Fallback, IReadOnlyDictionary<StalenessOutcome, long> Outcomes,
    long MaxStaleness, double MeanStaleness, IReadOnlyList<double> CorrectionCpuSeconds, IReadOnlyList<double> CorrectionQueueSeconds,
    int HistoryWindow, long HistoryPeakBytes, long Ignored, IReadOnlyList<ClientStaleness> ByClient);
