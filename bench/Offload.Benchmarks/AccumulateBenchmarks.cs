using BenchmarkDotNet.Attributes;
using Offload.Aggregator.Kernels;

namespace Offload.Benchmarks;

/// <summary>
/// The aggregation hot loop: folding a 10M-float (40 MB) update into the accumulator with its
/// weight, beside a plain copy of the same 40 MB in the same run (the memory-bandwidth baseline).
/// GB/s = 40e6 bytes of update / mean time. The accumulate reads update and accumulator and
/// writes the accumulator; the copy reads the source and writes (after a read-for-ownership) the
/// destination: both move about three 40 MB streams, so the target is at least 70% of the copy.
/// </summary>
[MemoryDiagnoser]
public class AccumulateBenchmarks
{
    private const int Length = 10_000_000;
    private float[] _update = null!;
    private float[] _accumulator = null!;
    private float[] _copy = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _update = new float[Length];
        _accumulator = new float[Length];
        _copy = new float[Length];
        for (int i = 0; i < Length; i++) _update[i] = (float)(random.NextDouble() - 0.5) * 1e-2f;
    }

    [Benchmark(Baseline = true, Description = "copy 40 MB")]
    public void Copy() => _update.AsSpan().CopyTo(_copy);

    [Benchmark(Description = "weighted accumulate 40 MB")]
    public void WeightedAccumulate() => AggregationKernels.WeightedAccumulate(_accumulator, _update, 0.37f);
}
