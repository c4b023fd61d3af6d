using System.Buffers.Binary;
using System.IO.Compression;

namespace Offload.Core.Tests.Data;

/// <summary>Builds IDX files in memory, so reader tests control every header byte.</summary>
internal static class IdxBytes
{
    public static byte[] File(int magic, uint[] dims, ReadOnlySpan<byte> body)
    {
        var bytes = new byte[4 + 4 * dims.Length + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int d = 0; d < dims.Length; d++)
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        body.CopyTo(bytes.AsSpan(4 + 4 * dims.Length));
        return bytes;
    }

    public static byte[] Images(int count, int rows, int columns, ReadOnlySpan<byte> pixels) =>
        File(0x803, [(uint)count, (uint)rows, (uint)columns], pixels);

    public static byte[] Labels(ReadOnlySpan<byte> labels) => File(0x801, [(uint)labels.Length], labels);

    public static byte[] Gzip(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(raw);
        return output.ToArray();
    }

    /// <summary>A small random data set: <paramref name="count"/> images of 4x3 and labels below 10.</summary>
    public static (byte[] Images, byte[] Labels, byte[] Pixels, byte[] LabelValues) Sample(int count, int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[count * 12];
        var labels = new byte[count];
        random.NextBytes(pixels);
        for (int i = 0; i < count; i++) labels[i] = (byte)random.Next(10);
        return (Images(count, 4, 3, pixels), Labels(labels), pixels, labels);
    }
}
