using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Core.Tests.Codec;

public class IdentityCodecTests
{
    private static readonly TensorLayout Layout = TensorLayout.Create([("w", [2, 2]), ("b", [1])]);
    private static readonly float[] Delta = [1f, -2f, 0.5f, 0f, 3f];

    [Fact]
    public void Encode_MatchesGoldenBytes()
    {
        string expected =
            "4F465A50" + "01" + "00" + "0000" + "5C000000" + Convert.ToHexString(BitConverter.GetBytes(Layout.Hash)) + "02000000" + "05000000"
            + "00" + "00" + "0000" + "04000000" + "04000000" + "00000000" + "10000000" + "0000803F" + "000000C0" + "0000003F" + "00000000"
            + "00" + "00" + "0000" + "01000000" + "01000000" + "00000000" + "04000000" + "00004040";
        byte[] payload = IdentityCodec.Instance.Encode(Delta, Layout);
        Assert.Equal(expected, Convert.ToHexString(payload)[..^8]);
        Assert.Equal(IdentityCodec.Instance.GetMaxEncodedLength(Layout), payload.Length);
    }

    [Fact]
    public void DecodeAndAccumulate_IsExact()
    {
        var codec = new IdentityCodec(embedLayout: true);
        byte[] payload = codec.Encode(Delta, Layout);
        var decoded = new float[5];
        codec.Decode(payload, Layout, decoded);
        Assert.Equal(Delta, decoded);

        float[] accumulator = [1f, 1f, 1f, 1f, 1f];
        codec.DecodeAndAccumulate(payload, Layout, accumulator, 0.5f);
        Assert.Equal([1.5f, 0f, 1.25f, 1f, 2.5f], accumulator);
    }

    [Fact]
    public void DecodeAndAccumulate_LargeRandom_EqualsScalarReference()
    {
        var layout = TensorLayout.Create([("a", [1000, 37]), ("b", [3])]);
        float[] delta = CodecCases.Values(layout.TotalLength, 1);
        float[] accumulator = CodecCases.Values(layout.TotalLength, 2);
        var expected = new float[accumulator.Length];
        const float weight = 0.37f;
        for (int i = 0; i < expected.Length; i++) expected[i] = accumulator[i] + weight * delta[i];
        IdentityCodec.Instance.DecodeAndAccumulate(IdentityCodec.Instance.Encode(delta, layout), layout, accumulator, weight);
        FedZipCodecTests.AssertBitEqual(expected, accumulator);
    }

    [Fact]
    public void Encode_ReconstructionIsTheInput()
    {
        var reconstruction = new float[5];
        IdentityCodec.Instance.Encode(Delta, Layout, reconstruction);
        Assert.Equal(Delta, reconstruction);
    }

    [Fact]
    public void Decode_FedZipPayload_ThrowsInvalidPayload()
    {
        byte[] payload = new FedZipCodec().Encode(Delta, Layout);
        Assert.Throws<InvalidPayloadException>(() => IdentityCodec.Instance.Decode(payload, Layout, new float[5]));
    }

    [Fact]
    public void Decode_NonFiniteValueWithValidCrc_ThrowsInvalidPayload()
    {
        byte[] payload = IdentityCodec.Instance.Encode(Delta, Layout);
        BitConverter.TryWriteBytes(payload.AsSpan(28 + 20 + 4), float.PositiveInfinity);
        PayloadMutation.FixChecksum(payload);
        var e = Assert.Throws<InvalidPayloadException>(() => IdentityCodec.Instance.Decode(payload, Layout, new float[5]));
        Assert.Contains("not finite", e.Message);
    }
}
