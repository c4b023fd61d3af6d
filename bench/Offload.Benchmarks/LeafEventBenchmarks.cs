using BenchmarkDotNet.Attributes;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Benchmarks;

/// <summary>
/// CPU a Dapr leaf function spends on one <c>UpdateArrived</c> of a 1M-parameter model with FedZip
/// z = 0.01, besides its two store reads and one actor call: checking that the payload decodes for
/// the round's layout, then folding it. Before: a decode into a fresh dense buffer (the check) and, at
/// emit time, a fused decode-and-add. Now: <see cref="UpdatePayload.Validate"/> (every check, nothing
/// written) and a fused decode-and-add into the leaf's warm sum on arrival.
/// </summary>
[MemoryDiagnoser]
public class LeafEventBenchmarks
{
    private const int Parameters = 1_000_000;
    private readonly TensorLayout _layout = TensorLayout.Create([("w", [Parameters])]);
    private byte[] _payload = null!;
    private float[] _sum = null!;
    private IUpdateCodec _codec = null!;

    [GlobalSetup]
    public void Setup()
    {
        _codec = new FedZipCodec(FedZipOptions.Default);
        _payload = _codec.Encode(BenchmarkModels.Update(Parameters), _layout);
        _sum = new float[Parameters];
    }

    [Benchmark(Baseline = true, Description = "before: dense check decode + fused fold at emit")]
    public void Before()
    {
        UpdatePayload.CodecFor(_payload).DecodeAndAccumulate(_payload, _layout, new float[Parameters], 1f);
        _codec.DecodeAndAccumulate(_payload, _layout, _sum, 0.25f);
    }

    [Benchmark(Description = "now: validate + fused fold on arrival")]
    public void Now()
    {
        UpdatePayload.Validate(_payload, _layout).DecodeAndAccumulate(_payload, _layout, _sum, 0.25f);
    }
}
