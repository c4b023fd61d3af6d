using Offload.Core.Codec;

namespace Offload.Core.Tests.Codec;

public class FedZipOptionsTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.1)]
    [InlineData(1.0001)]
    [InlineData(double.NaN)]
    public void TopZ_OutsideUnitInterval_Throws(double z)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => FedZipOptions.Default with { TopZ = z });
        Assert.Equal("TopZ", e.ParamName);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(257)]
    public void Clusters_OutOfRange_Throws(int k) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedZipOptions { Clusters = k });

    [Fact]
    public void OtherSettings_Validate()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedZipOptions { DenseThreshold = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedZipOptions { Encoding = (FedZipEncoding)9 });
    }

    [Fact]
    public void Defaults_AreDocumented()
    {
        var d = FedZipOptions.Default;
        Assert.Equal((0.01, 8, FedZipEncoding.Auto, 256, false, true), (d.TopZ, d.Clusters, d.Encoding, d.DenseThreshold, d.EmbedLayout, d.ErrorFeedback));
    }

    [Theory]
    [InlineData("huffman", FedZipEncoding.Huffman)]
    [InlineData("Positions", FedZipEncoding.Positions)]
    [InlineData(" GAPS ", FedZipEncoding.Gaps)]
    [InlineData("auto", FedZipEncoding.Auto)]
    public void ParseEncoding_AcceptsNamesInAnyCase(string text, FedZipEncoding expected) =>
        Assert.Equal(expected, FedZipOptions.ParseEncoding(text));

    [Theory]
    [InlineData("1")]
    [InlineData("zip")]
    [InlineData("huffman,gaps")]
    public void ParseEncoding_RejectsAnythingElse(string text)
    {
        var e = Assert.Throws<FormatException>(() => FedZipOptions.ParseEncoding(text));
        Assert.Contains("huffman, positions, gaps or auto", e.Message);
    }

    [Theory]
    [InlineData(0.1, 30, 3)]
    [InlineData(0.01, 1000, 10)]
    [InlineData(0.01, 1001, 11)]
    [InlineData(0.01, 5, 1)]
    [InlineData(1.0, 7, 7)]
    [InlineData(0.3, 10, 3)]
    public void KeptCount_IsCeilingOfZTimesN(double z, int n, int kept) =>
        Assert.Equal(kept, new FedZipOptions { TopZ = z }.KeptCount(n));
}
