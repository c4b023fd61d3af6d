using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.IO.Hashing;

namespace Offload.Core.Data;

/// <summary>
/// Reads IDX files, the format of MNIST and Fashion-MNIST (a big-endian header, then unsigned
/// bytes), gzip-compressed (detected by the 1f 8b header) or raw. Every size in the header is
/// checked against the bytes that actually arrive, and the buffer grows with those bytes rather
/// than with the header's claim, so a truncated or hostile file fails with a
/// <see cref="DatasetFormatException"/> instead of an <see cref="OutOfMemoryException"/>.
/// </summary>
/// <remarks>
/// Bytes after the declared data are rejected. Bytes after the last gzip member are rejected only
/// on seekable streams (files, resources), where the gzip trailer can be checked; on a forward-only
/// stream they are ignored, as GZipStream ignores them.
/// </remarks>
public static class IdxReader
{
    /// <summary>Magic number of an images file: unsigned bytes (0x08), 3 dimensions (count, rows, columns).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of a labels file: unsigned bytes (0x08), 1 dimension (count).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Default class count, that of MNIST and Fashion-MNIST.</summary>
    public const int DefaultClassCount = 10;

    private const int FirstChunk = 1 << 20;

    // Deflate expands at most about 1032:1, so a seekable gzip file of n bytes cannot hold more
    // than 1032 n; a header claiming more is rejected before anything is read.
    private const long MaxDeflateRatio = 1032;

    /// <summary>Reads an images file (magic 0x00000803) from <paramref name="path"/>.</summary>
    /// <exception cref="DatasetFormatException">The file is not a well-formed IDX images file.</exception>
    /// <exception cref="FileNotFoundException">No file exists at <paramref name="path"/>.</exception>
    public static IdxImages ReadImages(string path)
    {
        using var file = OpenFile(path);
        return ReadImages(file, path);
    }

    /// <summary>Reads an images file from <paramref name="stream"/>, reading it to the end; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="DatasetFormatException">The bytes are not a well-formed IDX images file.</exception>
    public static IdxImages ReadImages(Stream stream, string sourceName)
    {
        Span<int> dims = stackalloc int[3];
        byte[] pixels = Read(stream, sourceName, ImagesMagic, dims);
        return new IdxImages(pixels, dims[0], dims[1], dims[2]);
    }

    /// <summary>Reads a labels file (magic 0x00000801) from <paramref name="path"/>.</summary>
    /// <exception cref="DatasetFormatException">The file is not a well-formed IDX labels file.</exception>
    /// <exception cref="FileNotFoundException">No file exists at <paramref name="path"/>.</exception>
    public static byte[] ReadLabels(string path)
    {
        using var file = OpenFile(path);
        return ReadLabels(file, path);
    }

    /// <summary>Reads a labels file from <paramref name="stream"/>, reading it to the end; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="DatasetFormatException">The bytes are not a well-formed IDX labels file.</exception>
    public static byte[] ReadLabels(Stream stream, string sourceName)
    {
        Span<int> dims = stackalloc int[1];
        return Read(stream, sourceName, LabelsMagic, dims);
    }

    /// <summary>Loads an images file and its labels file into one data set.</summary>
    /// <exception cref="DatasetFormatException">A file is malformed, the counts disagree, or a label is not below <paramref name="classCount"/>.</exception>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classCount"/> is not in 1..256.</exception>
    public static ImageDataset ReadDataset(string imagesPath, string labelsPath, int classCount = DefaultClassCount)
    {
        CheckClassCount(classCount);
        using var images = OpenFile(imagesPath);
        using var labels = OpenFile(labelsPath);
        return ReadDataset(images, imagesPath, labels, labelsPath, classCount);
    }

    /// <summary>Loads an images stream and its labels stream into one data set; the names identify them in errors.</summary>
    /// <exception cref="DatasetFormatException">A stream is malformed, the counts disagree, or a label is not below <paramref name="classCount"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classCount"/> is not in 1..256.</exception>
    public static ImageDataset ReadDataset(Stream images, string imagesName, Stream labels, string labelsName, int classCount = DefaultClassCount)
    {
        CheckClassCount(classCount);
        // Labels first: they are small, so a bad labels file fails before 47 MB of pixels are read.
        byte[] labelBytes = ReadLabels(labels, labelsName);
        int bad = FirstAtLeast(labelBytes, classCount);
        if (bad >= 0)
            throw new DatasetFormatException($"{labelsName}: label {labelBytes[bad]} at index {bad} is not below the class count {classCount}.");
        IdxImages pixels = ReadImages(images, imagesName);
        if (pixels.Count != labelBytes.Length)
            throw new DatasetFormatException($"{imagesName} holds {Count(pixels.Count)} images but {labelsName} holds {Count(labelBytes.Length)} labels; they must match.");
        return new ImageDataset(pixels.Pixels, labelBytes, pixels.Rows, pixels.Columns, classCount);
    }

    private static byte[] Read(Stream stream, string name, int magic, Span<int> dims)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        if (!stream.CanRead) throw new ArgumentException($"The stream for {name} is not readable.", nameof(stream));

        long available = stream.CanSeek ? stream.Length - stream.Position : -1;
        byte[] sniff = new byte[2];
        int sniffed = stream.ReadAtLeast(sniff, 2, throwOnEndOfStream: false);
        if (sniffed < 2)
            throw new DatasetFormatException($"{name}: {sniffed} byte(s) long; too short for an IDX header.");
        bool gzip = sniff[0] == 0x1f && sniff[1] == 0x8b;
        Stream prefixed = new PrefixedStream(sniff, sniffed, stream);
        using Stream input = gzip ? new GZipStream(prefixed, CompressionMode.Decompress, leaveOpen: true) : prefixed;
        string what = gzip ? $"{name} (gzip)" : name;
        try
        {
            Span<byte> header = stackalloc byte[4 + 4 * dims.Length];
            long total = ReadHeader(input, what, magic, dims, header, gzip, available);
            byte[] body = ReadBody(input, what, total, dims);
            EnsureAtEnd(input, what, total);
            if (gzip && available >= 0)
                EnsureGzipEndsAtMember(stream, what, header, body);
            return body;
        }
        catch (InvalidDataException e)
        {
            throw new DatasetFormatException($"{name}: corrupt gzip data ({e.Message}).", e);
        }
    }

    private static long ReadHeader(Stream input, string name, int magic, Span<int> dims, Span<byte> header, bool gzip, long available)
    {
        int headerLength = header.Length;
        int got = input.ReadAtLeast(header[..4], 4, throwOnEndOfStream: false);
        if (got < 4)
            throw new DatasetFormatException($"{name}: ends after {got} byte(s), inside the 4-byte IDX magic number.");
        int actual = BinaryPrimitives.ReadInt32BigEndian(header);
        if (actual != magic)
            throw new DatasetFormatException($"{name}: {DescribeMagic(actual, magic)}");
        got = input.ReadAtLeast(header[4..], headerLength - 4, throwOnEndOfStream: false);
        if (got < headerLength - 4)
            throw new DatasetFormatException($"{name}: ends after {4 + got} bytes, inside the {headerLength}-byte header.");

        long total = 1;
        for (int d = 0; d < dims.Length; d++)
        {
            uint size = BinaryPrimitives.ReadUInt32BigEndian(header[(4 + 4 * d)..]);
            if (size > int.MaxValue)
                throw new DatasetFormatException($"{name}: dimension {d} declares {size:N0} entries, more than any array can hold.");
            dims[d] = (int)size;
            if (d > 0 && size == 0)
                throw new DatasetFormatException($"{name}: dimension {d} is 0; images must be at least 1x1.");
            total *= size; // each factor < 2^31 and total <= Array.MaxLength before it: no overflow
            if (total > Array.MaxLength)
                throw new DatasetFormatException($"{name}: header declares {Shape(dims[..(d + 1)])} = {total:N0} bytes, more than any array can hold.");
        }

        if (available >= 0)
        {
            long body = available - headerLength;
            if (!gzip && body < total)
                throw new DatasetFormatException($"{name}: truncated; header declares {Shape(dims)} = {total:N0} data bytes but only {body:N0} follow the header.");
            if (!gzip && body > total)
                throw new DatasetFormatException($"{name}: {body - total:N0} trailing byte(s) after the {total:N0} data bytes the header declares ({Shape(dims)}).");
            if (gzip && total > available * MaxDeflateRatio)
                throw new DatasetFormatException($"{name}: header declares {Shape(dims)} = {total:N0} bytes, more than {available:N0} compressed bytes can hold.");
        }
        return total;
    }

    private static byte[] ReadBody(Stream input, string name, long total, ReadOnlySpan<int> dims)
    {
        // Grow by doubling as bytes arrive, never past the declared size: memory follows the data
        // actually present (at most twice it), not a header's claim.
        byte[] buffer = new byte[(int)Math.Min(total, FirstChunk)];
        int filled = 0;
        while (true)
        {
            filled += input.ReadAtLeast(buffer.AsSpan(filled), buffer.Length - filled, throwOnEndOfStream: false);
            if (filled < buffer.Length)
                throw new DatasetFormatException($"{name}: truncated; header declares {Shape(dims)} = {total:N0} data bytes but only {filled:N0} follow the header.");
            if (filled == total) return buffer;
            Array.Resize(ref buffer, (int)Math.Min(total, 2L * buffer.Length));
        }
    }

    private static void EnsureAtEnd(Stream input, string name, long total)
    {
        byte[] scratch = new byte[81920];
        long extra = 0;
        int n;
        while ((n = input.Read(scratch)) > 0) extra += n;
        if (extra > 0)
            throw new DatasetFormatException($"{name}: {extra:N0} trailing byte(s) after the {total:N0} data bytes the header declares.");
    }

    /// <summary>
    /// GZipStream silently stops at bytes that follow the last gzip member, so on a seekable
    /// stream the file's last 8 bytes are checked to be a member trailer (CRC-32 and size, both
    /// little-endian) that matches the end of the decompressed data. Multi-member files pass,
    /// since the last member's size says how much of the data its CRC covers.
    /// </summary>
    private static void EnsureGzipEndsAtMember(Stream stream, string name, ReadOnlySpan<byte> header, ReadOnlySpan<byte> body)
    {
        Span<byte> trailer = stackalloc byte[8];
        stream.Seek(-8, SeekOrigin.End);
        stream.ReadExactly(trailer);
        uint expectedCrc = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        long lastMember = BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]);
        long length = header.Length + body.Length;
        bool matches = lastMember <= length;
        if (matches)
        {
            var crc = new Crc32();
            int fromHeader = (int)Math.Max(0, lastMember - body.Length);
            crc.Append(header[(header.Length - fromHeader)..]);
            crc.Append(body[(int)(body.Length - (lastMember - fromHeader))..]);
            matches = crc.GetCurrentHashAsUInt32() == expectedCrc;
        }
        if (!matches)
            throw new DatasetFormatException($"{name}: trailing bytes after the end of the gzip data (the file's last 8 bytes are not the gzip trailer of its contents).");
    }

    private static string DescribeMagic(int actual, int expected)
    {
        string kind = expected == ImagesMagic ? "an images file (0x00000803)" : "a labels file (0x00000801)";
        if ((actual & unchecked((int)0xFFFF0000)) != 0)
            return $"magic number 0x{actual:X8} is not an IDX header; expected {kind}.";
        int type = (actual >> 8) & 0xFF;
        int dims = actual & 0xFF;
        if (type != 0x08)
            return $"element type 0x{type:X2} is not unsigned bytes (0x08); expected {kind}.";
        return $"has {dims} dimension(s) (magic 0x{actual:X8}); expected {kind} with {expected & 0xFF}.";
    }

    private static string Shape(ReadOnlySpan<int> dims)
    {
        var parts = new string[dims.Length];
        for (int i = 0; i < dims.Length; i++) parts[i] = dims[i].ToString("N0", CultureInfo.InvariantCulture);
        return string.Join(" x ", parts);
    }

    private static string Count(int n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static int FirstAtLeast(ReadOnlySpan<byte> labels, int classCount)
    {
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classCount) return i;
        return -1;
    }

    private static void CheckClassCount(int classCount)
    {
        if (classCount < 1 || classCount > 256)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "Class count must be between 1 and 256 (labels are single bytes).");
    }

    private static FileStream OpenFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
    }
}
