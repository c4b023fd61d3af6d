using Offload.Core.Codec;

namespace Offload.Core.Tests.Codec;

public class CanonicalHuffmanTests
{
    [Fact]
    public void BuildLengths_KnownFrequencies_GivesOptimalLengths()
    {
        var lengths = new byte[4];
        CanonicalHuffman.BuildLengths([10, 1, 1, 2], lengths);
        Assert.Equal(new byte[] { 1, 3, 3, 2 }, lengths);
    }

    [Fact]
    public void BuildLengths_FibonacciFrequencies_AreLimitedTo15AndComplete()
    {
        // Fibonacci weights make the unlimited Huffman tree as deep as the alphabet is long.
        var frequencies = new long[40];
        frequencies[0] = frequencies[1] = 1;
        for (int i = 2; i < frequencies.Length; i++) frequencies[i] = frequencies[i - 1] + frequencies[i - 2];
        var lengths = new byte[40];
        CanonicalHuffman.BuildLengths(frequencies, lengths);
        Assert.All(lengths, l => Assert.InRange(l, (byte)1, (byte)15));
        Assert.Equal(15, CanonicalHuffman.Validate(lengths));
    }

    [Theory]
    [InlineData(new byte[] { 1, 1, 1 }, "over-subscribed")]
    [InlineData(new byte[] { 1, 2 }, "incomplete")]
    [InlineData(new byte[] { 0, 1 }, "lengths must be 1 to 15")]
    [InlineData(new byte[] { 16, 1 }, "lengths must be 1 to 15")]
    public void Validate_NotACompletePrefixCode_Throws(byte[] lengths, string reason)
    {
        var e = Assert.Throws<InvalidPayloadException>(() => CanonicalHuffman.Validate(lengths));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Codes_RoundTripThroughBitWriterAndDecodeTable()
    {
        byte[] lengths = [2, 3, 3, 1];
        var codes = new uint[4];
        CanonicalHuffman.BuildCodes(lengths, codes);
        int max = CanonicalHuffman.Validate(lengths);
        var table = new ushort[1 << max];
        CanonicalHuffman.BuildDecodeTable(lengths, max, table);

        byte[] symbols = [3, 0, 1, 2, 3, 3, 2, 0, 1];
        var buffer = new byte[8];
        var writer = new BitWriter(buffer);
        foreach (byte s in symbols) writer.Write(codes[s], lengths[s]);
        int bytes = writer.Finish();

        var reader = new BitReader(buffer.AsSpan(0, bytes), "test");
        foreach (byte s in symbols)
        {
            ushort entry = table[reader.Peek(max)];
            reader.Skip(entry & 15);
            Assert.Equal(s, entry >> 4);
        }
        reader.EnsureConsumedExactly();
    }
}
