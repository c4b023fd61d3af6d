using BenchmarkDotNet.Attributes;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Benchmarks;

/// <summary>
/// FedZip encode and fused decode-accumulate of a 10.4M-parameter update (<see cref="BenchmarkModels.Transformer10M"/>,
/// values ~N(0, 0.01²)) at z = 0.01 with the default options, against a plain copy of the same
/// dense buffer and the identity codec. Throughput is over the dense-equivalent input:
/// MB/s = 4 bytes × 10,370,314 parameters / mean time / 10^6 (41.48 MB per operation).
/// </summary>
[MemoryDiagnoser]
public class FedZipBenchmarks
{
    private TensorLayout _layout = null!;
    private float[] _delta = null!;
    private float[] _copy = null!;
    private float[] _accumulator = null!;
    private byte[] _buffer = null!;
    private byte[] _fedZipPayload = null!;
    private byte[] _identityPayload = null!;
    private FedZipCodec _fedZip = null!;
    private ErrorFeedback _feedback = null!;

    [GlobalSetup]
    public void Setup()
    {
        _layout = BenchmarkModels.Transformer10M();
        _delta = BenchmarkModels.Update(_layout.TotalLength);
        _copy = new float[_layout.TotalLength];
        _accumulator = new float[_layout.TotalLength];
        _fedZip = new FedZipCodec(FedZipOptions.Default);
        _feedback = new ErrorFeedback(_fedZip, _layout);
        _buffer = new byte[IdentityCodec.Instance.GetMaxEncodedLength(_layout)];
        _fedZipPayload = _fedZip.Encode(_delta, _layout);
        _identityPayload = IdentityCodec.Instance.Encode(_delta, _layout);
    }

    [Benchmark(Baseline = true, Description = "memory copy (41.5 MB)")]
    public void MemoryCopy() => _delta.AsSpan().CopyTo(_copy);

    [Benchmark(Description = "FedZip encode")]
    public int FedZipEncode()
    {
        _fedZip.TryEncode(_delta, _layout, _buffer, out int written);
        return written;
    }

    [Benchmark(Description = "FedZip encode + error feedback")]
    public int FedZipEncodeWithErrorFeedback()
    {
        _feedback.TryEncode(_delta, _buffer, out int written);
        return written;
    }

    [Benchmark(Description = "FedZip decode-accumulate")]
    public void FedZipDecodeAndAccumulate() => _fedZip.DecodeAndAccumulate(_fedZipPayload, _layout, _accumulator, 0.25f);

    [Benchmark(Description = "FedZip decode (dense)")]
    public void FedZipDecode() => _fedZip.Decode(_fedZipPayload, _layout, _copy);

    [Benchmark(Description = "identity encode")]
    public int IdentityEncode()
    {
        IdentityCodec.Instance.TryEncode(_delta, _layout, _buffer, out int written);
        return written;
    }

    [Benchmark(Description = "identity decode-accumulate")]
    public void IdentityDecodeAndAccumulate() => IdentityCodec.Instance.DecodeAndAccumulate(_identityPayload, _layout, _accumulator, 0.25f);
}
