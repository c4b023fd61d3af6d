using System.Buffers;
using System.Buffers.Binary;
using Offload.Core.Model;

namespace Offload.Core.Codec;

/// <summary>
/// Structural parse of an untrusted payload: header, checksum, layout, FedZip body header and every
/// tensor record's header, with each declared length checked against the bytes that are really
/// there and against the layout, before any section is decoded. Nothing it allocates grows with a
/// declared length, only with the layout's tensor count.
/// </summary>
internal sealed class PayloadReader
{
    private PayloadReader(PayloadHeader header, bool checksumValid, TensorLayout? embeddedLayout, FedZipParameters? fedZip, TensorRecord[] records)
    {
        Header = header;
        ChecksumValid = checksumValid;
        EmbeddedLayout = embeddedLayout;
        FedZip = fedZip;
        Records = records;
    }

    public PayloadHeader Header { get; }
    public bool ChecksumValid { get; }
    public TensorLayout? EmbeddedLayout { get; }
    public FedZipParameters? FedZip { get; }
    public TensorRecord[] Records { get; }

    /// <summary>The informational settings a FedZip payload was written with.</summary>
    public readonly record struct FedZipParameters(float TopZ, int Clusters, FedZipEncoding Encoding, int DenseThreshold);

    /// <summary>
    /// Parses <paramref name="payload"/>. With an <paramref name="expected"/> layout and codec the
    /// payload must match them and its checksum must hold; without (inspection) a bad checksum is
    /// only reported.
    /// </summary>
    /// <exception cref="InvalidPayloadException">The payload is malformed or does not match what was expected.</exception>
    /// <param name="verifyChecksum">False for a caller that runs the CRC-32C itself, fused with its own pass over the bytes; <see cref="ChecksumValid"/> is then false and means nothing.</param>
    public static PayloadReader Read(ReadOnlySpan<byte> payload, TensorLayout? expected, PayloadCodec? expectedCodec, bool verifyChecksum = true)
    {
        var status = PayloadFormat.TryReadHeader(payload, out var header, out string? problem);
        if (status == OperationStatus.NeedMoreData)
            throw new InvalidPayloadException($"The payload is truncated: {payload.Length} bytes, shorter than the {PayloadFormat.HeaderLength}-byte header.");
        if (status != OperationStatus.Done) throw new InvalidPayloadException(problem!);
        if (header.PayloadLength != payload.Length)
            throw new InvalidPayloadException(header.PayloadLength > payload.Length
                ? $"The payload is truncated: the header declares {header.PayloadLength} bytes but {payload.Length} arrived."
                : $"The payload has trailing bytes: the header declares {header.PayloadLength} bytes but {payload.Length} arrived.");
        bool checksumValid = verifyChecksum && PayloadFormat.ChecksumMatches(payload);
        bool strict = expected is not null;
        if (strict && verifyChecksum && !checksumValid) throw new InvalidPayloadException("The payload's CRC-32C does not match its contents: it was corrupted.");
        if (expectedCodec is { } codec && header.Codec != codec)
            throw new InvalidPayloadException($"The payload was written by the {header.Codec} codec, not the {codec} codec.");
        if (expected is not null)
        {
            if (header.LayoutHash != expected.Hash)
                throw new InvalidPayloadException($"The payload is for layout {header.LayoutHash:X16}, not the expected {expected.Hash:X16}.");
            if (header.TensorCount != expected.Tensors.Count || header.ParameterCount != expected.TotalLength)
                throw new InvalidPayloadException($"The payload declares {header.TensorCount} tensors and {header.ParameterCount} parameters; the layout has {expected.Tensors.Count} and {expected.TotalLength}.");
        }

        int at = PayloadFormat.HeaderLength;
        int end = payload.Length - PayloadFormat.ChecksumLength;
        TensorLayout? embedded = null;
        if (header.LayoutEmbedded)
        {
            // Measured first: every tensor also needs a record header after the layout (and the FedZip
            // body header), so a count the bytes cannot hold is refused before a name or shape is built.
            int measured = PayloadFormat.MeasureLayout(payload[at..end], header.TensorCount, header.ParameterCount);
            long room = end - at - measured - (header.Codec == PayloadCodec.FedZip ? PayloadFormat.FedZipBodyHeaderLength : 0);
            if (header.TensorCount > Math.Max(room, 0) / PayloadFormat.RecordHeaderLength)
                throw new InvalidPayloadException($"The payload declares {header.TensorCount} tensors but after its embedded layout has room for at most {Math.Max(room, 0) / PayloadFormat.RecordHeaderLength} records.");
            embedded = PayloadFormat.BuildMeasuredLayout(payload[at..end], header.TensorCount);
            at += measured;
            if (embedded.Hash != header.LayoutHash)
                throw new InvalidPayloadException($"The embedded layout hashes to {embedded.Hash:X16}, not the header's {header.LayoutHash:X16}.");
            if (embedded.TotalLength != header.ParameterCount)
                throw new InvalidPayloadException($"The embedded layout holds {embedded.TotalLength} parameters; the header declares {header.ParameterCount}.");
            if (expected is not null && !embedded.Equals(expected))
                throw new InvalidPayloadException("The embedded layout differs from the expected layout.");
        }
        var reference = expected ?? embedded;

        FedZipParameters? fedZip = null;
        if (header.Codec == PayloadCodec.FedZip)
        {
            if (end - at < PayloadFormat.FedZipBodyHeaderLength) throw PayloadFormat.Truncated("FedZip body header");
            fedZip = ReadFedZipParameters(payload.Slice(at, PayloadFormat.FedZipBodyHeaderLength));
            at += PayloadFormat.FedZipBodyHeaderLength;
        }

        // Every record takes at least its header, which bounds the record array by the payload size.
        if (header.TensorCount > (end - at) / PayloadFormat.RecordHeaderLength)
            throw new InvalidPayloadException($"The payload declares {header.TensorCount} tensors but has room for at most {(end - at) / PayloadFormat.RecordHeaderLength} records.");
        var records = new TensorRecord[header.TensorCount];
        long elementOffset = 0;
        for (int i = 0; i < records.Length; i++)
        {
            int? expectedElements = reference?.Tensors[i].Length;
            records[i] = ReadRecord(payload, i, at, end, (int)elementOffset, expectedElements, header.Codec);
            at += records[i].RecordBytes;
            elementOffset += records[i].Elements;
            if (elementOffset > header.ParameterCount)
                throw new InvalidPayloadException($"The tensor records hold more than the {header.ParameterCount} parameters the header declares.");
        }
        if (elementOffset != header.ParameterCount)
            throw new InvalidPayloadException($"The tensor records hold {elementOffset} parameters; the header declares {header.ParameterCount}.");
        if (at != end)
            throw new InvalidPayloadException($"The payload has {end - at} unexplained bytes after its last tensor record.");
        return new PayloadReader(header, checksumValid, embedded, fedZip, records);
    }

    private static FedZipParameters ReadFedZipParameters(ReadOnlySpan<byte> body)
    {
        float topZ = BinaryPrimitives.ReadSingleLittleEndian(body);
        int clusters = BinaryPrimitives.ReadUInt16LittleEndian(body[4..]);
        int encoding = body[6];
        int reserved = body[7];
        uint denseThreshold = BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
        if (!(topZ > 0 && topZ <= 1)) throw new InvalidPayloadException($"The FedZip header gives top-z {topZ}, outside (0, 1].");
        if (clusters < 1 || clusters > FedZipOptions.MaxClusters) throw new InvalidPayloadException($"The FedZip header gives {clusters} clusters, outside [1, {FedZipOptions.MaxClusters}].");
        if (encoding > (int)FedZipEncoding.Auto) throw new InvalidPayloadException($"The FedZip header names encoding {encoding}; known encodings are 0 to 3.");
        if (reserved != 0) throw new InvalidPayloadException("The FedZip header's reserved byte is not zero.");
        if (denseThreshold > int.MaxValue) throw new InvalidPayloadException($"The FedZip header gives a dense threshold of {denseThreshold}.");
        return new FedZipParameters(topZ, clusters, (FedZipEncoding)encoding, (int)denseThreshold);
    }

    private static TensorRecord ReadRecord(ReadOnlySpan<byte> payload, int index, int at, int end, int elementOffset, int? expectedElements, PayloadCodec codec)
    {
        if (end - at < PayloadFormat.RecordHeaderLength) throw PayloadFormat.Truncated($"record header of tensor {index}");
        var h = payload.Slice(at, PayloadFormat.RecordHeaderLength);
        int modeByte = h[0];
        int parameter = h[1];
        int clusters = BinaryPrimitives.ReadUInt16LittleEndian(h[2..]);
        uint elements = BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
        uint kept = BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
        uint positionBytes = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
        uint valueBytes = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
        string who = $"tensor {index}";

        if (modeByte > (int)TensorSectionMode.Gaps) throw new InvalidPayloadException($"The record of {who} has unknown mode {modeByte}.");
        var mode = (TensorSectionMode)modeByte;
        if (codec == PayloadCodec.Identity && mode != TensorSectionMode.Dense)
            throw new InvalidPayloadException($"The identity payload stores {who} in mode {mode}; it only stores dense tensors.");
        if (elements > int.MaxValue) throw new InvalidPayloadException($"The record of {who} declares {elements} elements.");
        if (expectedElements is { } n0 && elements != n0)
            throw new InvalidPayloadException($"The record of {who} declares {elements} elements; the layout has {n0}.");
        int n = (int)elements;
        if (kept > elements) throw new InvalidPayloadException($"The record of {who} keeps {kept} of {elements} elements.");
        int k = (int)kept;

        long expectedPositions, minValues, maxValues;
        if (mode == TensorSectionMode.Dense)
        {
            if (parameter != 0 || clusters != 0 || k != n || positionBytes != 0 || valueBytes != 4L * n)
                throw new InvalidPayloadException($"The dense record of {who} must have parameter 0, no clusters, every element kept, no position bytes and {4L * n} value bytes.");
            expectedPositions = 0;
            minValues = maxValues = 4L * n;
        }
        else
        {
            if ((k == 0) != (clusters == 0)) throw new InvalidPayloadException($"The record of {who} keeps {k} entries with {clusters} clusters; exactly one of them is zero.");
            if (clusters > FedZipOptions.MaxClusters || clusters > k)
                throw new InvalidPayloadException($"The record of {who} declares {clusters} clusters for {k} kept entries (at most min(kept, {FedZipOptions.MaxClusters})).");
            int indexBits = FixedWidth(clusters);
            switch (mode)
            {
                case TensorSectionMode.Huffman:
                    if (parameter != 0) throw new InvalidPayloadException($"The Huffman record of {who} has position parameter {parameter}; it must be 0.");
                    expectedPositions = k == 0 ? 0 : (n + 7L) / 8;
                    (minValues, maxValues) = HuffmanBounds(k, clusters);
                    break;
                case TensorSectionMode.Positions:
                    if (parameter != FixedWidth(n)) throw new InvalidPayloadException($"The positions record of {who} has width {parameter}; {n} elements need {FixedWidth(n)} bits.");
                    expectedPositions = ((long)k * parameter + 7) / 8;
                    minValues = maxValues = ((long)k * indexBits + 7) / 8;
                    break;
                default: // Gaps
                    if (parameter > 30) throw new InvalidPayloadException($"The gaps record of {who} has Rice parameter {parameter}; at most 30 is allowed.");
                    expectedPositions = -1; // Checked while decoding; at least one terminating bit per entry.
                    if (positionBytes < ((long)k * (parameter + 1) + 7) / 8)
                        throw new InvalidPayloadException($"The gaps record of {who} has {positionBytes} position bytes, too few for {k} entries.");
                    (minValues, maxValues) = HuffmanBounds(k, clusters);
                    break;
            }
        }
        if (expectedPositions >= 0 && positionBytes != expectedPositions)
            throw new InvalidPayloadException($"The {mode} record of {who} has {positionBytes} position bytes; {expectedPositions} were expected.");
        if (valueBytes < minValues || valueBytes > maxValues)
            throw new InvalidPayloadException($"The {mode} record of {who} has {valueBytes} value bytes; between {minValues} and {maxValues} were expected.");

        var record = new TensorRecord(mode, parameter, clusters, n, k, elementOffset, at, 0, 0, -1, 0, (int)Math.Min(positionBytes, int.MaxValue), 0, (int)valueBytes);
        long lengthsBytes = record.HasCodeLengths ? clusters : 0;
        long total = PayloadFormat.RecordHeaderLength + 4L * clusters + lengthsBytes + positionBytes + valueBytes;
        if (total > end - at) throw PayloadFormat.Truncated($"record of {who} (it declares {total} bytes, {end - at} remain)");
        int centroidsAt = at + PayloadFormat.RecordHeaderLength;
        int lengthsAt = centroidsAt + 4 * clusters;
        int positionsAt = lengthsAt + (int)lengthsBytes;
        return record with
        {
            RecordBytes = (int)total,
            CentroidsAt = centroidsAt,
            LengthsAt = record.HasCodeLengths ? lengthsAt : -1,
            PositionsAt = positionsAt,
            ValuesAt = positionsAt + (int)positionBytes,
        };
    }

    /// <summary>Byte bounds of a Huffman index stream: 1 to 15 bits per entry, nothing when one cluster.</summary>
    private static (long Min, long Max) HuffmanBounds(int kept, int clusters) =>
        clusters <= 1 ? (0, 0) : ((kept + 7L) / 8, (kept * (long)CanonicalHuffman.MaxCodeLength + 7) / 8);

    /// <summary>Bits of a fixed-width field that can hold 0..count-1 (0 when count is 0 or 1).</summary>
    public static int FixedWidth(int count) => count <= 1 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)(count - 1));
}
