using System.Buffers.Binary;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Core.Tests.Codec;

/// <summary>
/// Hand-made hostile payloads, each with a valid CRC so that only the structural checks can catch
/// them: every one must be rejected with <see cref="InvalidPayloadException"/> and a message naming the fault.
/// </summary>
public class HostilePayloadTests
{
    private static readonly TensorLayout Layout = TensorLayout.Create([("w", [4, 5])]);
    private static readonly float[] Delta =
        [0.5f, -0.1f, 0.02f, 0f, 0.9f, -0.8f, 0.01f, 0.03f, -0.02f, 0.04f, 0f, 0f, 0.7f, 0f, -0.05f, 0.06f, 0.3f, -0.3f, 0.2f, 0.1f];

    private static (byte[] Payload, TensorRecord Record) Encode(FedZipEncoding encoding, int clusters)
    {
        var codec = new FedZipCodec(new FedZipOptions { TopZ = 0.3, Clusters = clusters, DenseThreshold = 0, Encoding = encoding });
        byte[] payload = codec.Encode(Delta, Layout);
        return (payload, PayloadReader.Read(payload, Layout, PayloadCodec.FedZip).Records[0]);
    }

    private static void AssertRejected(byte[] payload, string reason)
    {
        PayloadMutation.FixChecksum(payload);
        var accumulator = new float[Layout.TotalLength];
        var e = Assert.Throws<InvalidPayloadException>(() => new FedZipCodec().DecodeAndAccumulate(payload, Layout, accumulator, 1f));
        Assert.Contains(reason, e.Message);
        Assert.All(accumulator, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void RepeatedPosition_IsRejected()
    {
        var (p, r) = Encode(FedZipEncoding.Positions, 3);
        // Positions are 5 bits each; copy the first position over the second.
        var reader = new BitReader(p.AsSpan(r.PositionsAt, r.PositionBytes), "test");
        uint first = reader.Read(5);
        var bits = new byte[r.PositionBytes];
        p.AsSpan(r.PositionsAt, r.PositionBytes).CopyTo(bits);
        ulong word = 0;
        for (int i = 0; i < bits.Length; i++) word |= (ulong)bits[i] << (8 * i);
        word = (word & ~(0x1FUL << 5)) | ((ulong)first << 5);
        for (int i = 0; i < bits.Length; i++) p[r.PositionsAt + i] = (byte)(word >> (8 * i));
        AssertRejected(p, "positions must increase");
    }

    [Fact]
    public void CentroidIndexOutOfRange_IsRejected()
    {
        var (p, r) = Encode(FedZipEncoding.Positions, 3);
        Assert.Equal(3, r.Clusters);
        p[r.ValuesAt] |= 0b11; // first 2-bit index = 3, with only 3 clusters
        AssertRejected(p, "not below its 3 clusters");
    }

    [Fact]
    public void OverSubscribedHuffmanTable_IsRejected()
    {
        var (p, r) = Encode(FedZipEncoding.Gaps, 3);
        p.AsSpan(r.LengthsAt, 3).Fill(1);
        AssertRejected(p, "over-subscribed");
    }

    [Fact]
    public void IncompleteHuffmanTable_IsRejected()
    {
        var (p, r) = Encode(FedZipEncoding.Huffman, 3);
        p.AsSpan(r.LengthsAt, 3).Fill(2);
        AssertRejected(p, "incomplete");
    }

    [Fact]
    public void BitmapBitPastTheTensor_IsRejected()
    {
        var (p, r) = Encode(FedZipEncoding.Huffman, 2);
        p[r.PositionsAt + r.PositionBytes - 1] |= 0x80; // bit 23 of a 20-element tensor
        AssertRejected(p, "past its 20 elements");
    }

    [Fact]
    public void BitmapWithExtraBit_IsRejected()
    {
        var (p, r) = Encode(FedZipEncoding.Huffman, 2);
        p[r.PositionsAt] |= 0x08; // element 3 is 0 and not kept
        AssertRejected(p, "sets more than");
    }

    [Fact]
    public void GapPastTheEnd_IsRejected()
    {
        var (p, r) = Encode(FedZipEncoding.Gaps, 2);
        p.AsSpan(r.PositionsAt, r.PositionBytes).Clear(); // one endless unary run
        AssertRejected(p, "unary run");
    }

    [Fact]
    public void HugeKeptCount_IsRejectedBeforeDecoding()
    {
        var (p, r) = Encode(FedZipEncoding.Gaps, 2);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(r.RecordAt + 8), uint.MaxValue);
        AssertRejected(p, "keeps 4294967295 of 20");
    }

    [Fact]
    public void NonFiniteCentroid_IsRejected()
    {
        var (p, r) = Encode(FedZipEncoding.Gaps, 2);
        BinaryPrimitives.WriteSingleLittleEndian(p.AsSpan(r.CentroidsAt), float.PositiveInfinity);
        AssertRejected(p, "not finite");
    }

    [Fact]
    public void TrailingBytes_AreRejected()
    {
        var (valid, _) = Encode(FedZipEncoding.Gaps, 2);
        byte[] p = [.. valid[..^4], 0, 0, 0, 0, 0];
        PayloadMutation.FixLength(p);
        AssertRejected(p, "unexplained bytes");
    }

    [Fact]
    public void CorruptedByteWithStaleCrc_IsRejectedByTheChecksum()
    {
        var (p, r) = Encode(FedZipEncoding.Gaps, 2);
        p[r.ValuesAt] ^= 1;
        var e = Assert.Throws<InvalidPayloadException>(() => new FedZipCodec().Decode(p, Layout, new float[20]));
        Assert.Contains("CRC-32", e.Message);
    }
}
