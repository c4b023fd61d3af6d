using CsCheck;
using Offload.Core.Codec;

namespace Offload.Core.Tests.Codec;

public class BitReaderTests
{
    [Fact]
    public void FieldsAndUnaryNumbers_RoundTrip()
    {
        var gen = Gen.Select(Gen.Int[0, 32], Gen.UInt, Gen.Int[0, 100], Gen.Bool).Array[1, 200];
        SeededSample.Run(gen, 3, 300, fields =>
        {
            var buffer = new byte[fields.Length * 32];
            var writer = new BitWriter(buffer);
            foreach (var (bits, value, unary, isUnary) in fields)
                if (isUnary) writer.WriteUnary(unary);
                else writer.Write(bits == 32 ? value : value & ((1u << bits) - 1), bits);
            int length = writer.Finish();

            var reader = new BitReader(buffer.AsSpan(0, length), "test");
            foreach (var (bits, value, unary, isUnary) in fields)
                if (isUnary) Assert.Equal(unary, reader.ReadUnary(1000));
                else Assert.Equal(bits == 32 ? value : value & ((1u << bits) - 1), reader.Read(bits));
            reader.EnsureConsumedExactly();
        });
    }

    [Fact]
    public void ReadUnary_OverLimitOrPastTheEnd_Throws()
    {
        byte[] zeros = new byte[20];
        Assert.Throws<InvalidPayloadException>(() => new BitReader(zeros, "test").ReadUnary(1_000_000));
        byte[] long1 = [0, 0, 1];
        Assert.Throws<InvalidPayloadException>(() => new BitReader(long1, "test").ReadUnary(10));
    }

    [Fact]
    public void EnsureConsumedExactly_RejectsShortLongAndDirtyPadding()
    {
        Assert.Throws<InvalidPayloadException>(() => { var r = new BitReader([0xFF], "test"); r.Read(9); r.EnsureConsumedExactly(); });
        Assert.Throws<InvalidPayloadException>(() => { var r = new BitReader([0x01, 0x00], "test"); r.Read(3); r.EnsureConsumedExactly(); });
        Assert.Throws<InvalidPayloadException>(() => { var r = new BitReader([0xF1], "test"); r.Read(3); r.EnsureConsumedExactly(); });
        var ok = new BitReader([0x05], "test");
        Assert.Equal(5u, ok.Read(3));
        ok.EnsureConsumedExactly();
    }
}
