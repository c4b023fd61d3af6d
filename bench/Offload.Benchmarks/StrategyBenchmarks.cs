using BenchmarkDotNet.Attributes;
using Offload.Aggregator.Strategies;

namespace Offload.Benchmarks;

/// <summary>
/// The strategies' hot paths on a group of 10 updates of the default CNN's 46,730 parameters (one
/// leaf of the Byzantine table), beside the baseline measured in the same run: the weighted mean a
/// sum-decomposable leaf computes (FedAvg's fold of 10 updates). The robust rules pay the column
/// sort (median, trimmed mean) or the 45 pairwise distances (Krum); the server optimisers pay one
/// pass over the model and its moments.
/// </summary>
[MemoryDiagnoser]
public class StrategyBenchmarks
{
    private const int Length = 46_730, Updates = 10;
    private float[][] _updates = null!;
    private UpdateGroup _group = null!;
    private float[] _destination = null!;
    private float[] _weights = null!;
    private readonly FedAdam _adam = new();
    private readonly FedYogi _yogi = new();
    private readonly CoordinateMedian _median = new();
    private readonly TrimmedMean _trimmed = new(0.1);
    private readonly Krum _krum = new(1);
    private ServerState _adamState = null!;
    private ServerState _yogiState = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        _updates = new float[Updates][];
        for (int i = 0; i < Updates; i++)
        {
            _updates[i] = new float[Length];
            for (int j = 0; j < Length; j++) _updates[i][j] = (float)(random.NextDouble() - 0.5) * 0.02f;
        }
        _group = new UpdateGroup(_updates, Enumerable.Repeat(1.0, Updates).ToArray(), Length);
        _destination = new float[Length];
        _weights = new float[Length];
        _adamState = _adam.InitialState();
        _yogiState = _yogi.InitialState();
    }

    [Benchmark(Baseline = true, Description = "weighted mean of 10 (FedAvg leaf)")]
    public void WeightedMean()
    {
        Array.Clear(_destination);
        for (int i = 0; i < Updates; i++) System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(_updates[i], 0.1f, _destination, _destination);
    }

    [Benchmark(Description = "coordinate median of 10")]
    public void Median() => _median.Combine(_group, _destination);

    [Benchmark(Description = "trimmed mean of 10 (beta 0.1)")]
    public void Trimmed() => _trimmed.Combine(_group, _destination);

    [Benchmark(Description = "Krum of 10 (f = 1)")]
    public void KrumOf10() => _krum.Combine(_group, _destination);

    [Benchmark(Description = "FedAdam server step")]
    public void AdamStep() => _adam.Aggregate(_updates[0], Updates, _weights, _adamState);

    [Benchmark(Description = "FedYogi server step")]
    public void YogiStep() => _yogi.Aggregate(_updates[0], Updates, _weights, _yogiState);
}
