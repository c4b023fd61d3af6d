using CsCheck;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Core.Tests.Codec;

public class FedZipCodecTests
{
    private const ulong Seed = 20210401;

    private static readonly TensorLayout TinyLayout = TensorLayout.Create([("w", [4, 4]), ("b", [2])]);

    private static readonly float[] TinyDelta =
        [0.5f, -0.1f, 0.02f, 0f, 0.9f, -0.8f, 0.01f, 0.03f, -0.02f, 0.04f, 0f, 0f, 0.7f, 0f, -0.05f, 0.06f, 1f, -1f];

    /// <summary>
    /// Top 4 of 16 by magnitude are 0.5@0, 0.9@4, -0.8@5, 0.7@12; two clusters {-0.8} and {0.5, 0.7, 0.9};
    /// auto picks 4-bit positions (0x40 0xC5) and 1-bit indices 1,1,0,1 (0x0B); "b" is under the dense threshold.
    /// </summary>
    private const string TinyGolden =
        "4F465A50" + "01" + "01" + "0000" + "67000000" + "5D7DA9B60F56A2E0" + "02000000" + "12000000" // header
        + "0000803E" + "0200" + "03" + "00" + "04000000" // top-z 0.25, 2 clusters, auto, dense below 4
        + "02" + "04" + "0200" + "10000000" + "04000000" + "02000000" + "01000000" // w: positions, width 4, k 2, n 16, kept 4, P 2, V 1
        + "CDCC4CBF" + "3333333F" + "40C5" + "0B" // centroids -0.8, 0.7; positions; indices
        + "00" + "00" + "0000" + "02000000" + "02000000" + "00000000" + "08000000" + "0000803F" + "000080BF" // b: dense
        + "20E8DEF4"; // CRC-32C (Castagnoli)

    private static FedZipCodec TinyCodec(FedZipEncoding encoding = FedZipEncoding.Auto) =>
        new(new FedZipOptions { TopZ = 0.25, Clusters = 2, DenseThreshold = 4, Encoding = encoding });

    [Fact]
    public void Encode_TinyUpdate_MatchesGoldenBytes()
    {
        byte[] payload = TinyCodec().Encode(TinyDelta, TinyLayout);
        Assert.Equal(TinyGolden, Convert.ToHexString(payload));
    }

    [Fact]
    public void Decode_GoldenBytes_GivesCentroidsAtKeptPositionsAndZerosElsewhere()
    {
        var decoded = new float[TinyLayout.TotalLength];
        new FedZipCodec().Decode(Convert.FromHexString(TinyGolden), TinyLayout, decoded);
        float high = BitConverter.Int32BitsToSingle(0x3F333333), low = BitConverter.Int32BitsToSingle(unchecked((int)0xBF4CCCCD));
        float[] expected = [high, 0, 0, 0, high, low, 0, 0, 0, 0, 0, 0, high, 0, 0, 0, 1f, -1f];
        Assert.Equal(expected, decoded);
    }

    [Fact]
    public void Encode_GapsWithEmbeddedLayout_MatchesGoldenBytes()
    {
        // Kept: 0.5@0, 0.9@4, -0.8@5, 0.75@12. Three clusters: {-0.8}, {0.5}, {0.75, 0.9}.
        float[] delta = (float[])TinyDelta.Clone();
        delta[12] = 0.75f;
        var codec = new FedZipCodec(new FedZipOptions { TopZ = 0.25, Clusters = 3, DenseThreshold = 4, Encoding = FedZipEncoding.Gaps, EmbedLayout = true });
        byte[] payload = codec.Encode(delta, TinyLayout);
        Assert.Equal(GapsGolden, Convert.ToHexString(payload));

        var decoded = new float[TinyLayout.TotalLength];
        codec.Decode(payload, TinyLayout, decoded);
        float[] expected = [0.5f, 0, 0, 0, 0.825f, -0.8f, 0, 0, 0, 0, 0, 0, 0.825f, 0, 0, 0, 1f, -1f];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], decoded[i], 1e-6f);
    }

    /// <summary>
    /// Gaps 0, 3, 0, 6 Rice-coded with r = 1 (0x39 0x04); code lengths 2, 2, 1 give indices 1, 2, 0, 2
    /// the codes 11, 0, 10, 0 (0x0B).
    /// </summary>
    private const string GapsGolden =
        "4F465A50" + "01" + "01" + "0100" + "82000000" + "5D7DA9B60F56A2E0" + "02000000" + "12000000" // header, layout embedded
        + "0100" + "77" + "02" + "04000000" + "04000000" + "0100" + "62" + "01" + "02000000" // layout: w[4x4], b[2]
        + "0000803E" + "0300" + "02" + "00" + "04000000" // top-z 0.25, 3 clusters, gaps, dense below 4
        + "03" + "01" + "0300" + "10000000" + "04000000" + "02000000" + "01000000" // w: gaps, Rice 1, k 3, n 16, kept 4, P 2, V 1
        + "CDCC4CBF" + "0000003F" + "3333533F" + "020201" + "3904" + "0B" // centroids -0.8, 0.5, 0.825; code lengths; gaps; indices
        + "00" + "00" + "0000" + "02000000" + "02000000" + "00000000" + "08000000" + "0000803F" + "000080BF" // b: dense
        + "DE9563D0"; // CRC-32C (Castagnoli)

    [Theory]
    [InlineData(FedZipEncoding.Huffman)]
    [InlineData(FedZipEncoding.Positions)]
    [InlineData(FedZipEncoding.Gaps)]
    [InlineData(FedZipEncoding.Auto)]
    public void Decode_RandomUpdates_ReproducesEncoderReconstructionBitExactly(FedZipEncoding encoding)
    {
        var gen = CodecCases.For(CodecCases.Options.Select(o => o with { Encoding = encoding }));
        SeededSample.Run(gen, Seed + (ulong)encoding, 300, c =>
        {
            var codec = new FedZipCodec(c.Options);
            var reconstruction = new float[c.Delta.Length];
            byte[] payload = codec.Encode(c.Delta, c.Layout, reconstruction);
            Assert.True(payload.Length <= codec.GetMaxEncodedLength(c.Layout), "payload exceeds GetMaxEncodedLength");

            var decoded = new float[c.Delta.Length];
            Array.Fill(decoded, float.NaN);
            codec.Decode(payload, c.Layout, decoded);
            AssertBitEqual(reconstruction, decoded);

            var description = UpdatePayload.Describe(payload);
            for (int t = 0; t < c.Layout.Tensors.Count; t++)
            {
                var spec = c.Layout.Tensors[t];
                var section = description.Tensors[t];
                var slice = decoded.AsSpan(spec.Offset, spec.Length);
                if (spec.Length < c.Options.DenseThreshold)
                {
                    Assert.Equal(TensorSectionMode.Dense, section.Mode);
                    Assert.True(slice.SequenceEqual(c.Delta.AsSpan(spec.Offset, spec.Length)), "dense tensor is not exact");
                    continue;
                }
                int kept = c.Options.KeptCount(spec.Length);
                Assert.Equal(kept, section.Kept);
                double zn = c.Options.TopZ * spec.Length;
                Assert.InRange(kept, Math.Max(1, Math.Floor(zn)), Math.Ceiling(zn));
                if (encoding != FedZipEncoding.Auto) Assert.Equal((TensorSectionMode)((int)encoding + 1), section.Mode);
                // Every decoded entry is a centroid or exactly zero, and at most `kept` are non-zero.
                int nonZero = 0;
                foreach (float v in slice)
                {
                    if (v == 0) { Assert.Equal(0, BitConverter.SingleToInt32Bits(v) & 0x7FFFFFFF); continue; }
                    nonZero++;
                    Assert.Contains(v, section.Centroids);
                }
                Assert.True(nonZero <= kept, $"{nonZero} non-zero entries, {kept} kept");
            }
        });
    }

    [Fact]
    public void Decode_RandomUpdates_KeepsTheLargestMagnitudes()
    {
        // With a cluster per distinct kept value (k = 256 >= kept), a kept entry decodes to a non-zero
        // centroid whenever its value is non-zero, so the non-zero entries are the kept non-zero entries.
        var gen = CodecCases.For(CodecCases.Options.Select(o => o with { Clusters = 256, TopZ = 0.1, DenseThreshold = 0 }));
        SeededSample.Run(gen, Seed + 10, 200, c =>
        {
            var codec = new FedZipCodec(c.Options);
            var decoded = new float[c.Delta.Length];
            codec.Decode(codec.Encode(c.Delta, c.Layout), c.Layout, decoded);
            foreach (var spec in c.Layout.Tensors)
            {
                var x = c.Delta.AsSpan(spec.Offset, spec.Length);
                var d = decoded.AsSpan(spec.Offset, spec.Length);
                float smallestKept = float.PositiveInfinity, largestDropped = 0;
                for (int i = 0; i < x.Length; i++)
                {
                    if (d[i] != 0) smallestKept = Math.Min(smallestKept, Math.Abs(x[i]));
                    else if (x[i] != 0) largestDropped = Math.Max(largestDropped, Math.Abs(x[i]));
                }
                if (!float.IsPositiveInfinity(smallestKept)) Assert.True(largestDropped <= smallestKept, $"dropped {largestDropped} > kept {smallestKept}");
            }
        });
    }

    [Fact]
    public void DecodeAndAccumulate_EqualsAccumulatorPlusWeightTimesDecode()
    {
        var gen = Gen.Select(CodecCases.Any, Gen.Float[-3f, 3f], Gen.Int);
        SeededSample.Run(gen, Seed + 20, 300, t =>
        {
            var (c, weight, seed) = t;
            var codec = new FedZipCodec(c.Options);
            byte[] payload = codec.Encode(c.Delta, c.Layout);
            var decoded = new float[c.Delta.Length];
            codec.Decode(payload, c.Layout, decoded);
            float[] accumulator = CodecCases.Values(c.Delta.Length, seed);
            var expected = new float[accumulator.Length];
            for (int i = 0; i < expected.Length; i++) expected[i] = decoded[i] == 0 ? accumulator[i] : accumulator[i] + weight * decoded[i];
            codec.DecodeAndAccumulate(payload, c.Layout, accumulator, weight);
            AssertBitEqual(expected, accumulator);
        });
    }

    [Fact]
    public void TryEncode_DestinationTooSmall_ReturnsFalseAndWritesNothing()
    {
        var codec = TinyCodec();
        var destination = new byte[TinyGolden.Length / 2 - 1];
        Array.Fill(destination, (byte)0xAA);
        var reconstruction = new float[TinyDelta.Length];
        Array.Fill(reconstruction, 7f);

        Assert.False(codec.TryEncode(TinyDelta, TinyLayout, destination, out int written, reconstruction));

        Assert.Equal(0, written);
        Assert.All(destination, b => Assert.Equal(0xAA, b));
        Assert.All(reconstruction, v => Assert.Equal(7f, v));
    }

    [Fact]
    public void TryEncode_MaxEncodedLengthDestination_Succeeds()
    {
        var codec = TinyCodec(FedZipEncoding.Huffman);
        var destination = new byte[codec.GetMaxEncodedLength(TinyLayout)];
        Assert.True(codec.TryEncode(TinyDelta, TinyLayout, destination, out int written));
        Assert.Equal(codec.Encode(TinyDelta, TinyLayout), destination[..written]);
    }

    [Fact]
    public void Encode_NonFiniteValue_ThrowsArgumentException()
    {
        var delta = (float[])TinyDelta.Clone();
        delta[3] = float.NaN;
        var e = Assert.Throws<ArgumentException>(() => TinyCodec().Encode(delta, TinyLayout));
        Assert.Contains("index 3", e.Message);
    }

    [Fact]
    public void Encode_WrongLength_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => TinyCodec().Encode(new float[5], TinyLayout));
    }

    [Fact]
    public void DecodeAndAccumulate_NonFiniteWeight_ThrowsArgumentOutOfRange()
    {
        byte[] payload = TinyCodec().Encode(TinyDelta, TinyLayout);
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyCodec().DecodeAndAccumulate(payload, TinyLayout, new float[18], float.NaN));
    }

    [Fact]
    public void Decode_OtherLayout_ThrowsInvalidPayload()
    {
        byte[] payload = TinyCodec().Encode(TinyDelta, TinyLayout);
        var other = TensorLayout.Create([("w", [16]), ("b", [2])]);
        var e = Assert.Throws<InvalidPayloadException>(() => TinyCodec().Decode(payload, other, new float[18]));
        Assert.Contains("layout", e.Message);
    }

    [Fact]
    public void Decode_IdentityPayload_ThrowsInvalidPayloadNamingTheCodec()
    {
        byte[] payload = IdentityCodec.Instance.Encode(TinyDelta, TinyLayout);
        var e = Assert.Throws<InvalidPayloadException>(() => TinyCodec().Decode(payload, TinyLayout, new float[18]));
        Assert.Contains("Identity", e.Message);
    }

    [Fact]
    public void Decode_OtherVersion_ThrowsInvalidPayload()
    {
        byte[] payload = TinyCodec().Encode(TinyDelta, TinyLayout);
        payload[4] = 2;
        var e = Assert.Throws<InvalidPayloadException>(() => TinyCodec().Decode(payload, TinyLayout, new float[18]));
        Assert.Contains("version 2", e.Message);
    }

    [Fact]
    public void DecodeAndAccumulate_HostilePayloadWithValidCrc_LeavesAccumulatorUnchanged()
    {
        // Put a NaN into the dense tensor "b" (the last one) and fix the CRC: parsing gets past the
        // checksum and fails only after the sparse tensor "w" was decoded.
        byte[] payload = TinyCodec().Encode(TinyDelta, TinyLayout);
        int denseValues = 28 + 12 + 31 + 20;
        BitConverter.TryWriteBytes(payload.AsSpan(denseValues), float.NaN);
        PayloadMutation.FixChecksum(payload);
        var accumulator = new float[18];
        Array.Fill(accumulator, 3f);

        Assert.Throws<InvalidPayloadException>(() => TinyCodec().DecodeAndAccumulate(payload, TinyLayout, accumulator, 1f));

        Assert.All(accumulator, v => Assert.Equal(3f, v));
    }

    [Fact]
    public void Encode_DenseThresholdZero_SparsifiesEveryTensor()
    {
        var codec = new FedZipCodec(new FedZipOptions { TopZ = 0.5, DenseThreshold = 0 });
        var description = UpdatePayload.Describe(codec.Encode(TinyDelta, TinyLayout));
        Assert.All(description.Tensors, t => Assert.NotEqual(TensorSectionMode.Dense, t.Mode));
        Assert.Equal(1, description.Tensors[1].Kept);
    }

    [Fact]
    public void Encode_AllZeroTensor_KeepsZerosAndDecodesToZero()
    {
        var layout = TensorLayout.Create([("w", [300])]);
        var codec = new FedZipCodec(new FedZipOptions { TopZ = 0.1 });
        var decoded = new float[300];
        Array.Fill(decoded, 1f);
        codec.Decode(codec.Encode(new float[300], layout), layout, decoded);
        Assert.All(decoded, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Decode_AnyInstance_DecodesPayloadsOfOtherOptions()
    {
        var writer = new FedZipCodec(new FedZipOptions { TopZ = 0.5, Clusters = 7, Encoding = FedZipEncoding.Gaps, DenseThreshold = 0 });
        var reconstruction = new float[18];
        byte[] payload = writer.Encode(TinyDelta, TinyLayout, reconstruction);
        var decoded = new float[18];
        new FedZipCodec().Decode(payload, TinyLayout, decoded);
        Assert.Equal(reconstruction, decoded);
    }

    internal static void AssertBitEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"Element {i}: expected {expected[i]:R} but got {actual[i]:R}.");
    }
}
