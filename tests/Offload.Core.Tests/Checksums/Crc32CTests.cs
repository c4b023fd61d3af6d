using System.Text;
using Offload.Core.Checksums;

namespace Offload.Core.Tests.Checksums;

public class Crc32CTests
{
    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("a", 0xC1D04330u)]
    [InlineData("123456789", 0xE3069283u)] // The CRC-32C check value (RFC 3720, Castagnoli).
    [InlineData("The quick brown fox jumps over the lazy dog", 0x22620404u)]
    public void Known_vectors(string text, uint expected)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        Assert.Equal(expected, Crc32C.HashToUInt32(bytes));
        Assert.Equal(expected, Crc32C.HashWithTable(bytes));
    }

    [Fact]
    public void Thirty_two_zero_bytes_match_rfc_3720()
    {
        Assert.Equal(0x8A9136AAu, Crc32C.HashToUInt32(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.HashToUInt32(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
    }

    [Fact]
    public void Appending_in_pieces_equals_hashing_at_once_and_the_hardware_path_equals_the_table()
    {
        var random = new Random(11);
        var data = new byte[10_007];
        random.NextBytes(data);
        var hasher = new Crc32C();
        for (int at = 0; at < data.Length;)
        {
            int n = Math.Min(random.Next(1, 700), data.Length - at);
            hasher.Append(data.AsSpan(at, n));
            at += n;
        }
        Assert.Equal(Crc32C.HashWithTable(data), hasher.GetCurrentHashAsUInt32());
        Assert.Equal(Crc32C.HashToUInt32(data), hasher.GetCurrentHashAsUInt32());
        Assert.Equal(BitConverter.GetBytes(hasher.GetCurrentHashAsUInt32()), hasher.GetCurrentHash()); // Little-endian bytes, as Crc32 writes them.
        hasher.Reset();
        Assert.Equal(0u, hasher.GetCurrentHashAsUInt32());
    }

    [Theory]
    [InlineData(3 * Crc32C.StreamBlock - 1)]
    [InlineData(3 * Crc32C.StreamBlock)]
    [InlineData(3 * Crc32C.StreamBlock + 1)]
    [InlineData(6 * Crc32C.StreamBlock + 13)]
    [InlineData(1_000_003)]
    public void The_interleaved_streams_of_long_inputs_equal_the_table(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        Assert.Equal(Crc32C.HashWithTable(data), Crc32C.HashToUInt32(data));
        // Joined at an offset that is not a multiple of the block: the start register is carried through.
        var hasher = new Crc32C();
        hasher.Append(data.AsSpan(0, 5));
        hasher.Append(data.AsSpan(5));
        Assert.Equal(Crc32C.HashWithTable(data), hasher.GetCurrentHashAsUInt32());
    }
}
