namespace Offload.Cli.Benchmarks;

/// <summary>What the ingest benchmark measured over its counted rounds.</summary>
/// <param name="Updates">Updates acknowledged.</param>
/// <param name="PayloadBytes">Bytes per update.</param>
/// <param name="WallSeconds">From the end of the warm-up round to the last round's close.</param>
/// <param name="UpdatesPerSecond">Updates acknowledged per second.</param>
/// <param name="MegabytesPerSecond">Payload MiB acknowledged per second.</param>
/// <param name="P50Milliseconds">Median time from starting an upload to its acknowledgement.</param>
/// <param name="P99Milliseconds">99th percentile of the same.</param>
/// <param name="PeakWorkingSetBytes">Peak resident memory of the process (gateway, aggregator and load generator together).</param>
/// <param name="PeakManagedHeapBytes">Largest managed heap seen by sampling every 20 ms.</param>
/// <param name="PeakStoreBytes">Most payload bytes held in the update store at once.</param>
/// <param name="PeakConcurrentUploads">Most uploads the gateway streamed at once.</param>
/// <param name="Retries">Upload attempts beyond the first.</param>
public sealed record IngestBenchmarkResult(
    long Updates, int PayloadBytes, double WallSeconds, double UpdatesPerSecond, double MegabytesPerSecond,
    double P50Milliseconds, double P99Milliseconds, long PeakWorkingSetBytes, long PeakManagedHeapBytes,
    long PeakStoreBytes, int PeakConcurrentUploads, long Retries);
