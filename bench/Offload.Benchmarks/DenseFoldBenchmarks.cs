using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Offload.Core.Checksums;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Benchmarks;

/// <summary>
/// A leaf's fold of one dense (identity) update of 10M floats, 40 MB: the decoder's path
/// (<see cref="IdentityCodec.DecodeAndAccumulate"/>: its CRC-32C and finiteness check in one sweep of
/// cache-sized blocks, then the add), the three sweeps it did before (CRC, finiteness, add: the
/// payload read three times), the add sweep alone (the floor for any checked fold), the Dapr leaf's
/// validation followed by the checked fold (before) or by the add of validated bytes (now: checked
/// once), and a copy of the same bytes, the baseline the issue measures against.
/// </summary>
public class DenseFoldBenchmarks
{
    private const int Length = 10_000_000;
    private static readonly TensorLayout Layout = TensorLayout.Create([("w", [Length])]);
    private byte[] _payload = null!;
    private byte[] _copy = null!;
    private float[] _accumulator = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(4);
        var delta = new float[Length];
        for (int i = 0; i < delta.Length; i++) delta[i] = (float)(random.NextDouble() - 0.5);
        _payload = IdentityCodec.Instance.Encode(delta, Layout);
        _copy = new byte[_payload.Length];
        _accumulator = new float[Length];
    }

    [Benchmark(Baseline = true, Description = "copy the 40 MB payload")]
    public void Copy() => _payload.AsSpan().CopyTo(_copy);

    [Benchmark(Description = "fold: check sweep + add (now)")]
    public void Fold() => IdentityCodec.Instance.DecodeAndAccumulate(_payload, Layout, _accumulator, 0.25f);

    [Benchmark(Description = "add sweep alone (no checks: the floor)")]
    public void AddOnly()
    {
        var values = MemoryMarshal.Cast<byte, float>(_payload.AsSpan()[^(4 * Length + 4)..^4]);
        TensorPrimitives.MultiplyAdd(values, 0.25f, _accumulator, _accumulator);
    }

    [Benchmark(Description = "Dapr leaf before: validate, then the checked fold")]
    public void LeafValidateThenFold()
    {
        UpdatePayload.Validate(_payload, Layout);
        IdentityCodec.Instance.DecodeAndAccumulate(_payload, Layout, _accumulator, 0.25f);
    }

    [Benchmark(Description = "Dapr leaf now: validate, then the add (checked once)")]
    public void LeafValidateThenAdd()
    {
        UpdatePayload.Validate(_payload, Layout);
        UpdatePayload.AccumulateValidated(_payload, Layout, _accumulator, 0.25f);
    }

    [Benchmark(Description = "the add of validated bytes alone")]
    public void ValidatedAdd() => UpdatePayload.AccumulateValidated(_payload, Layout, _accumulator, 0.25f);

    [Benchmark(Description = "fold: CRC, finite, add sweeps (before)")]
    public void ThreeSweeps()
    {
        var payload = _payload.AsSpan();
        if (Crc32C.HashToUInt32(payload[..^4]) != BitConverter.ToUInt32(payload[^4..])) throw new InvalidOperationException("CRC");
        var values = MemoryMarshal.Cast<byte, float>(payload[^(4 * Length + 4)..^4]);
        if (ModelUpdate.FirstNonFinite(values) >= 0) throw new InvalidOperationException("finite");
        TensorPrimitives.MultiplyAdd(values, 0.25f, _accumulator, _accumulator);
    }
}
