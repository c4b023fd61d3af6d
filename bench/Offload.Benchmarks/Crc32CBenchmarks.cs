using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using Offload.Core.Checksums;

namespace Offload.Benchmarks;

/// <summary>
/// CRC-32C of a 40 MB payload (what a 10M-parameter identity update or model carries): the
/// library's three interleaved SSE4.2 streams against one dependent stream of the same instruction
/// (the implementation before, kept here as the baseline), and a plain 40 MB copy for scale.
/// </summary>
public class Crc32CBenchmarks
{
    private const int Length = 40_000_000;
    private byte[] _data = null!;
    private byte[] _copy = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Length];
        _copy = new byte[Length];
        new Random(3).NextBytes(_data);
        if (Crc32C.HashToUInt32(_data) != SingleStream(_data)) throw new InvalidOperationException("The two CRC-32C paths disagree.");
    }

    [Benchmark(Baseline = true, Description = "one SSE4.2 stream, 40 MB")]
    public uint OneStream() => SingleStream(_data);

    [Benchmark(Description = "three interleaved streams, 40 MB")]
    public uint ThreeStreams() => Crc32C.HashToUInt32(_data);

    [Benchmark(Description = "copy 40 MB")]
    public void Copy() => _data.AsSpan().CopyTo(_copy);

    private static uint SingleStream(ReadOnlySpan<byte> source)
    {
        if (!Sse42.X64.IsSupported) return Crc32C.HashToUInt32(source);
        ulong crc = uint.MaxValue;
        var words = MemoryMarshal.Cast<byte, ulong>(source);
        foreach (ulong word in words) crc = Sse42.X64.Crc32(crc, word);
        uint narrow = (uint)crc;
        foreach (byte b in source[(words.Length * sizeof(ulong))..]) narrow = Sse42.Crc32(narrow, b);
        return ~narrow;
    }
}
