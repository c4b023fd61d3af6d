using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Offload.Core.Model;

namespace Offload.Core.Codec;

/// <summary>
/// Byte-level pieces of the payload format shared by both codecs: the header, the optional layout
/// section, the per-tensor record header and the trailing CRC. The tables are in docs/fedzip-format.md.
/// </summary>
internal static class PayloadFormat
{
    public const int HeaderLength = 28;
    public const int ChecksumLength = 4;
    public const int RecordHeaderLength = 20;
    public const int FedZipBodyHeaderLength = 12;
    public const byte Version = 1;
    public const ushort FlagLayoutEmbedded = 1;
    public const int MaxRank = 32;

    /// <summary>"OFZP": Offload FedZip Payload.</summary>
    public static ReadOnlySpan<byte> Magic => "OFZP"u8;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static void WriteHeader(Span<byte> destination, PayloadCodec codec, TensorLayout layout, bool embedLayout, int payloadLength)
    {
        Magic.CopyTo(destination);
        destination[4] = Version;
        destination[5] = (byte)codec;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], embedLayout ? FlagLayoutEmbedded : (ushort)0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)payloadLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[12..], layout.Hash);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], (uint)layout.Tensors.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], (uint)layout.TotalLength);
    }

    /// <summary>Reads the header; the status says whether more bytes are needed or the bytes are no payload.</summary>
    public static OperationStatus TryReadHeader(ReadOnlySpan<byte> source, out PayloadHeader header, out string? problem)
    {
        header = default;
        problem = null;
        int known = Math.Min(source.Length, Magic.Length);
        if (!source[..known].SequenceEqual(Magic[..known]))
        {
            problem = "The payload does not start with the magic bytes \"OFZP\".";
            return OperationStatus.InvalidData;
        }
        if (source.Length >= 5 && source[4] != Version)
        {
            problem = $"The payload has format version {source[4]}; this build reads version {Version}.";
            return OperationStatus.InvalidData;
        }
        if (source.Length < HeaderLength) return OperationStatus.NeedMoreData;

        byte codec = source[5];
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(source[6..]);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(source[8..]);
        uint tensors = BinaryPrimitives.ReadUInt32LittleEndian(source[20..]);
        uint parameters = BinaryPrimitives.ReadUInt32LittleEndian(source[24..]);
        if (codec > (byte)PayloadCodec.FedZip) problem = $"The payload names codec {codec}; known codecs are 0 (identity) and 1 (FedZip).";
        else if ((flags & ~FlagLayoutEmbedded) != 0) problem = $"The payload sets unknown header flags 0x{flags:X4}.";
        else if (length < HeaderLength + ChecksumLength || length > int.MaxValue) problem = $"The payload declares a length of {length} bytes, outside [{HeaderLength + ChecksumLength}, {int.MaxValue}].";
        else if (tensors > int.MaxValue) problem = $"The payload declares {tensors} tensors.";
        else if (parameters > int.MaxValue) problem = $"The payload declares {parameters} parameters.";
        if (problem is not null) return OperationStatus.InvalidData;

        header = new PayloadHeader(Version, (PayloadCodec)codec, (flags & FlagLayoutEmbedded) != 0, (int)length,
            BinaryPrimitives.ReadUInt64LittleEndian(source[12..]), (int)tensors, (int)parameters);
        return OperationStatus.Done;
    }

    /// <summary>Bytes the layout section takes: per tensor a u16 name length, the UTF-8 name, a u8 rank and u32 dimensions.</summary>
    public static long LayoutSectionLength(TensorLayout layout)
    {
        long total = 0;
        foreach (var t in layout.Tensors)
            total += 2 + Encoding.UTF8.GetByteCount(t.Name) + 1 + 4L * t.Shape.Count;
        return total;
    }

    /// <summary>
    /// The checks both encoders make before writing a byte: the update and any reconstruction buffer
    /// match the layout, every value is finite, and an embedded layout fits the format.
    /// </summary>
    /// <exception cref="ArgumentException">A length does not match, a value is not finite, or the layout cannot be embedded.</exception>
    public static void ValidateEncoderInput(ReadOnlySpan<float> delta, TensorLayout layout, Span<float> reconstruction, bool embedLayout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.EnsureMatches(delta, nameof(delta));
        if (!reconstruction.IsEmpty) layout.EnsureMatches(reconstruction, nameof(reconstruction));
        ModelUpdate.EnsureFinite(delta, nameof(delta));
        if (embedLayout) EnsureEmbeddable(layout);
    }

    /// <summary>Throws when the layout cannot be embedded (a name over 65535 UTF-8 bytes or a rank over 32).</summary>
    public static void EnsureEmbeddable(TensorLayout layout)
    {
        foreach (var t in layout.Tensors)
        {
            if (Encoding.UTF8.GetByteCount(t.Name) > ushort.MaxValue)
                throw new ArgumentException($"Tensor name '{t.Name[..32]}...' is longer than {ushort.MaxValue} UTF-8 bytes and cannot be embedded.", nameof(layout));
            if (t.Shape.Count > MaxRank)
                throw new ArgumentException($"Tensor '{t.Name}' has rank {t.Shape.Count}; an embedded layout allows at most {MaxRank}.", nameof(layout));
        }
    }

    public static int WriteLayout(Span<byte> destination, TensorLayout layout)
    {
        int at = 0;
        foreach (var t in layout.Tensors)
        {
            int nameBytes = Encoding.UTF8.GetBytes(t.Name, destination[(at + 2)..]);
            BinaryPrimitives.WriteUInt16LittleEndian(destination[at..], (ushort)nameBytes);
            at += 2 + nameBytes;
            destination[at++] = (byte)t.Shape.Count;
            foreach (int d in t.Shape)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(destination[at..], (uint)d);
                at += 4;
            }
        }
        return at;
    }

    /// <summary>
    /// Walks an embedded layout section of <paramref name="tensorCount"/> tensors and returns its length,
    /// checking names (non-empty, UTF-8), ranks and dimensions, and that the tensors together hold at most
    /// <paramref name="parameterCount"/> elements; only unique names are left to <see cref="BuildMeasuredLayout"/>. Allocates nothing, so a hostile count or shape is refused before any name or shape is
    /// materialised.
    /// </summary>
    /// <exception cref="InvalidPayloadException">The section is truncated or describes an invalid layout.</exception>
    public static int MeasureLayout(ReadOnlySpan<byte> source, int tensorCount, int parameterCount)
    {
        // Each tensor takes at least 3 bytes (length, one name byte, rank), which bounds the count.
        if (tensorCount > source.Length / 3)
            throw new InvalidPayloadException($"The payload declares {tensorCount} tensors but the embedded layout has room for at most {source.Length / 3}.");
        int at = 0;
        long total = 0;
        for (int i = 0; i < tensorCount; i++)
        {
            if (source.Length - at < 3) throw Truncated("embedded layout");
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(source[at..]);
            at += 2;
            if (nameLength == 0) throw new InvalidPayloadException($"Tensor {i} of the embedded layout has an empty name.");
            if (source.Length - at < nameLength + 1) throw Truncated("embedded layout");
            if (!System.Text.Unicode.Utf8.IsValid(source.Slice(at, nameLength)))
                throw new InvalidPayloadException($"Tensor {i} of the embedded layout has a name that is not valid UTF-8.");
            at += nameLength;
            int rank = source[at++];
            if (rank > MaxRank) throw new InvalidPayloadException($"Tensor {i} of the embedded layout has rank {rank}; at most {MaxRank} is allowed.");
            if (source.Length - at < 4 * rank) throw Truncated("embedded layout");
            // Up to 32 dimensions below 2^31 each overflow any integer; the declared size is reported in double.
            double elements = 1;
            int shapeAt = at;
            for (int d = 0; d < rank; d++)
            {
                uint dim = BinaryPrimitives.ReadUInt32LittleEndian(source[at..]);
                at += 4;
                if (dim == 0 || dim > int.MaxValue) throw new InvalidPayloadException($"Tensor {i} of the embedded layout has a dimension of {dim}.");
                elements *= dim;
            }
            if (elements > parameterCount - total)
                throw new InvalidPayloadException(elements > parameterCount
                    ? $"Tensor {i} of the embedded layout declares {Count(elements)} elements (shape {Shape(source.Slice(shapeAt, 4 * rank))}); the header declares {parameterCount} parameters for the whole payload."
                    : $"The embedded layout's first {i + 1} tensors declare more than the header's {parameterCount} parameters.");
            total += (long)elements;
        }
        return at;
    }

    private static string Count(double elements) =>
        elements < 1e18 ? ((long)elements).ToString(System.Globalization.CultureInfo.InvariantCulture) : elements.ToString("E3", System.Globalization.CultureInfo.InvariantCulture);

    private static string Shape(ReadOnlySpan<byte> dims)
    {
        var text = new StringBuilder();
        for (int d = 0; d < dims.Length; d += 4)
            text.Append(d == 0 ? "" : "x").Append(BinaryPrimitives.ReadUInt32LittleEndian(dims[d..]));
        return text.ToString();
    }

    /// <summary>
    /// Builds the layout of an embedded layout section of <paramref name="tensorCount"/> tensors that
    /// <see cref="MeasureLayout"/> has already walked with the same count: every check but unique names
    /// was made there, so this only materialises names and shapes.
    /// </summary>
    /// <exception cref="InvalidPayloadException">Two tensors share a name.</exception>
    internal static TensorLayout BuildMeasuredLayout(ReadOnlySpan<byte> source, int tensorCount)
    {
        var tensors = new List<(string, int[])>(tensorCount);
        int at = 0;
        for (int i = 0; i < tensorCount; i++)
        {
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(source[at..]);
            at += 2;
            // Valid UTF-8, as measured: the strict decoder cannot throw here.
            string name = StrictUtf8.GetString(source.Slice(at, nameLength));
            at += nameLength;
            var shape = new int[source[at++]];
            for (int d = 0; d < shape.Length; d++, at += 4) shape[d] = (int)BinaryPrimitives.ReadUInt32LittleEndian(source[at..]);
            tensors.Add((name, shape));
        }
        try
        {
            return TensorLayout.Create(tensors);
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            // Duplicate names, the one check measuring leaves to the layout.
            throw new InvalidPayloadException($"The embedded layout is invalid: {e.Message}", e);
        }
    }

    public static void WriteRecordHeader(Span<byte> destination, TensorSectionMode mode, int parameter, int clusters, int elements, int kept, int positionBytes, int valueBytes)
    {
        destination[0] = (byte)mode;
        destination[1] = (byte)parameter;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], (ushort)clusters);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)elements);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)kept);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)positionBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)valueBytes);
    }

    /// <summary>Writes the CRC-32C of everything before the last four bytes into them.</summary>
    public static void WriteChecksum(Span<byte> payload) =>
        BinaryPrimitives.WriteUInt32LittleEndian(payload[^ChecksumLength..], Checksums.Crc32C.HashToUInt32(payload[..^ChecksumLength]));

    public static bool ChecksumMatches(ReadOnlySpan<byte> payload) =>
        BinaryPrimitives.ReadUInt32LittleEndian(payload[^ChecksumLength..]) == Checksums.Crc32C.HashToUInt32(payload[..^ChecksumLength]);

    public static InvalidPayloadException Truncated(string what) => new($"The payload is truncated inside the {what}.");
}
