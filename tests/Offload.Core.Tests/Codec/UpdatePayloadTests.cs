using System.Buffers;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Core.Tests.Codec;

public class UpdatePayloadTests
{
    private static readonly TensorLayout Layout = TensorLayout.Create([("encoder.weight", [32, 16]), ("encoder.bias", [32])]);
    private static readonly float[] Delta = CodecCases.Values(Layout.TotalLength, 8);

    [Fact]
    public void TryReadHeader_ReportsNeedMoreDataThenDone()
    {
        byte[] payload = new FedZipCodec().Encode(Delta, Layout);
        Assert.Equal(OperationStatus.NeedMoreData, UpdatePayload.TryReadHeader(payload.AsSpan(0, 3), out _));
        Assert.Equal(OperationStatus.NeedMoreData, UpdatePayload.TryReadHeader(payload.AsSpan(0, 27), out _));
        Assert.Equal(OperationStatus.Done, UpdatePayload.TryReadHeader(payload.AsSpan(0, 28), out var header));
        Assert.Equal(new PayloadHeader(1, PayloadCodec.FedZip, false, payload.Length, Layout.Hash, 2, Layout.TotalLength), header);
    }

    [Fact]
    public void TryReadHeader_WrongMagicOrVersion_IsInvalidDataEarly()
    {
        Assert.Equal(OperationStatus.InvalidData, UpdatePayload.TryReadHeader("OFX"u8, out _));
        Assert.Equal(OperationStatus.InvalidData, UpdatePayload.TryReadHeader([.. "OFZP"u8, 9], out _));
    }

    [Fact]
    public void Describe_FedZipWithLayout_ListsTensorsAndSettings()
    {
        var codec = new FedZipCodec(new FedZipOptions { TopZ = 0.1, Clusters = 5, Encoding = FedZipEncoding.Gaps, EmbedLayout = true, DenseThreshold = 64 });
        byte[] payload = codec.Encode(Delta, Layout);

        var d = UpdatePayload.Describe(payload);

        Assert.True(d.ChecksumValid);
        Assert.Equal(Layout, d.Layout);
        Assert.Equal((0.1, 5, FedZipEncoding.Gaps, 64), (Math.Round(d.TopZ!.Value, 6), d.Clusters, d.Encoding, d.DenseThreshold));
        Assert.Equal(2, d.Tensors.Count);
        var w = d.Tensors[0];
        Assert.Equal(("encoder.weight", TensorSectionMode.Gaps, 512, 52, 5), (w.Name, w.Mode, w.Elements, w.Kept, w.Clusters));
        Assert.Equal(5, w.Centroids.Count);
        Assert.Equal(TensorSectionMode.Dense, d.Tensors[1].Mode);
        int layoutSection = (2 + 14 + 1 + 8) + (2 + 12 + 1 + 4);
        Assert.Equal(payload.Length, 28 + layoutSection + 12 + w.RecordBytes + d.Tensors[1].RecordBytes + 4);
        string text = d.ToString();
        Assert.Contains("encoder.weight", text);
        Assert.Contains("32x16", text);
        Assert.Contains("CRC-32C ok", text);
    }

    [Fact]
    public void Describe_CorruptedChecksum_ReportsInsteadOfThrowing()
    {
        byte[] payload = IdentityCodec.Instance.Encode(Delta, Layout);
        payload[^1] ^= 1;
        var d = UpdatePayload.Describe(payload);
        Assert.False(d.ChecksumValid);
        Assert.Null(d.Layout);
        Assert.Null(d.TopZ);
        Assert.Contains("MISMATCH", d.ToString());
        Assert.Throws<InvalidPayloadException>(() => IdentityCodec.Instance.Decode(payload, Layout, new float[Layout.TotalLength]));
    }

    [Fact]
    public void CodecFor_PicksTheCodecThatWroteThePayload()
    {
        Assert.IsType<IdentityCodec>(UpdatePayload.CodecFor(IdentityCodec.Instance.Encode(Delta, Layout)));
        var codec = UpdatePayload.CodecFor(new FedZipCodec().Encode(Delta, Layout));
        Assert.Equal(PayloadCodec.FedZip, codec.Codec);
        Assert.Throws<InvalidPayloadException>(() => UpdatePayload.CodecFor("nope"u8));
    }

    [Fact]
    public void GetMaxValidLength_IdentityIsExactAndFedZipBoundsEveryEncoding()
    {
        // The longest identity payload is the one that embeds the layout.
        Assert.Equal(new IdentityCodec(embedLayout: true).Encode(Delta, Layout).Length, UpdatePayload.GetMaxValidLength(Layout, PayloadCodec.Identity));
        Assert.True(IdentityCodec.Instance.Encode(Delta, Layout).Length < UpdatePayload.GetMaxValidLength(Layout, PayloadCodec.Identity));
        long fedZipBound = UpdatePayload.GetMaxValidLength(Layout, PayloadCodec.FedZip);
        foreach (var encoding in Enum.GetValues<FedZipEncoding>())
            foreach (double topZ in new[] { 0.01, 0.5, 1.0 })
                foreach (int clusters in new[] { 1, 16, 256 })
                {
                    var codec = new FedZipCodec(new FedZipOptions { TopZ = topZ, Clusters = clusters, Encoding = encoding, DenseThreshold = 0, EmbedLayout = true });
                    Assert.True(codec.Encode(Delta, Layout).Length <= fedZipBound, $"{encoding} {topZ} {clusters}");
                    Assert.True(codec.GetMaxEncodedLength(Layout) <= fedZipBound, $"encoder bound, {encoding} {topZ} {clusters}");
                }
    }

    [Theory]
    [InlineData(PayloadCodec.Identity)]
    [InlineData(PayloadCodec.FedZip)]
    public void Scale_MultipliesWhatEveryDecoderReadsAndKeepsThePayloadValid(PayloadCodec which)
    {
        IUpdateCodec codec = which == PayloadCodec.Identity ? IdentityCodec.Instance : new FedZipCodec(new FedZipOptions { TopZ = 0.3, Clusters = 8, DenseThreshold = 64 });
        byte[] payload = codec.Encode(Delta, Layout);
        var before = new float[Layout.TotalLength];
        codec.Decode(payload, Layout, before);

        UpdatePayload.Scale(payload, Layout, 0.25f);

        UpdatePayload.Validate(payload, Layout);
        var after = new float[Layout.TotalLength];
        codec.Decode(payload, Layout, after);
        for (int i = 0; i < after.Length; i++) Assert.Equal(0.25f * before[i], after[i]);
        Assert.Throws<ArgumentOutOfRangeException>(() => UpdatePayload.Scale(payload, Layout, 1.5f));
        payload[^1] ^= 1;
        Assert.Throws<InvalidPayloadException>(() => UpdatePayload.Scale(payload, Layout, 0.5f));
    }
}
