using System.Buffers;
using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Offload.Core.Model;

namespace Offload.Core.Codec;

/// <summary>
/// Entry points that work on any payload whatever its codec: reading the header as bytes arrive,
/// describing a payload for inspection, and picking the codec that decodes it.
/// </summary>
public static class UpdatePayload
{
    /// <summary>The format version this build reads and writes.</summary>
    public const int FormatVersion = PayloadFormat.Version;

    /// <summary>Bytes of the fixed header.</summary>
    public const int HeaderLength = PayloadFormat.HeaderLength;

    /// <summary>
    /// Reads the fixed header from the start of <paramref name="source"/>, which may be an incomplete
    /// prefix: <see cref="OperationStatus.NeedMoreData"/> until <see cref="HeaderLength"/> bytes are there,
    /// <see cref="OperationStatus.InvalidData"/> as soon as the bytes cannot start a payload, else
    /// <see cref="OperationStatus.Done"/>. Nothing past the header is checked.
    /// </summary>
    public static OperationStatus TryReadHeader(ReadOnlySpan<byte> source, out PayloadHeader header) =>
        PayloadFormat.TryReadHeader(source, out header, out _);

    /// <summary>The codec that decodes <paramref name="payload"/>, from its header.</summary>
    /// <exception cref="InvalidPayloadException">The bytes do not start with a valid header.</exception>
    public static IUpdateCodec CodecFor(ReadOnlySpan<byte> payload)
    {
        var status = PayloadFormat.TryReadHeader(payload, out var header, out string? problem);
        if (status == OperationStatus.NeedMoreData) throw new InvalidPayloadException($"The payload is truncated: {payload.Length} bytes, shorter than the {HeaderLength}-byte header.");
        if (status != OperationStatus.Done) throw new InvalidPayloadException(problem!);
        return header.Codec == PayloadCodec.Identity ? IdentityCodec.Instance : DefaultFedZip;
    }

    private static readonly FedZipCodec DefaultFedZip = new();

    /// <summary>
    /// Makes every check that decoding <paramref name="payload"/> for <paramref name="layout"/> makes
    /// (header, CRC-32C, layout, streams, finite values), writing nothing and allocating no model-sized
    /// buffer: a payload that passes decodes without error. For refusing an update before it takes a
    /// place anywhere.
    /// </summary>
    /// <returns>The codec that decodes the payload (as <see cref="CodecFor"/>).</returns>
    /// <exception cref="InvalidPayloadException">The payload is malformed or not for this layout.</exception>
    public static IUpdateCodec Validate(ReadOnlySpan<byte> payload, TensorLayout layout)
    {
        var codec = CodecFor(payload);
        UpdateDecoder.Validate(payload, layout, KindOf(codec));
        return codec;
    }

    /// <summary>
    /// Makes every check of <see cref="Validate"/> and returns the update's L2 norm, summed in double
    /// (so 3e38-sized finite values do not overflow it). A dense payload is measured where it lies, a
    /// sparse one decoded into pooled scratch: no caller buffer, and nothing the size of the model is
    /// written for a dense update.
    /// </summary>
    /// <exception cref="InvalidPayloadException">The payload is malformed or not for this layout.</exception>
    public static double NormOf(ReadOnlySpan<byte> payload, TensorLayout layout) =>
        UpdateDecoder.Norm(payload, layout, KindOf(CodecFor(payload)));

    /// <summary>
    /// Adds <paramref name="weight"/> times <paramref name="payload"/> to <paramref name="accumulator"/>,
    /// for bytes that passed <see cref="Validate"/> for <paramref name="layout"/> and are unchanged since
    /// (the caller holds them, e.g. under one store lease): so an update is checked once. The CRC-32C
    /// and the finiteness of dense values are not checked again; the structure is parsed again.
    /// Bytes that did not pass <see cref="Validate"/> must go through <see cref="IUpdateCodec.DecodeAndAccumulate"/>.
    /// </summary>
    /// <exception cref="InvalidPayloadException">The payload is malformed (it was not validated, or changed).</exception>
    public static void AccumulateValidated(ReadOnlySpan<byte> payload, TensorLayout layout, Span<float> accumulator, float weight) =>
        UpdateDecoder.AccumulateValidated(payload, layout, KindOf(CodecFor(payload)), accumulator, weight);

    /// <summary>The decoder's name for <paramref name="codec"/>.</summary>
    private static PayloadCodec KindOf(IUpdateCodec codec) => codec is IdentityCodec ? PayloadCodec.Identity : PayloadCodec.FedZip;

    /// <summary>
    /// The longest payload of <paramref name="codec"/> for <paramref name="layout"/> that <see cref="Validate"/>
    /// could accept, whatever settings wrote it: the layout embedded and, for FedZip, every tensor in its
    /// longest valid record (every entry kept, 256 clusters, the widest position and index streams). A
    /// declared length above it can never decode, so an upload that declares one is refused before a byte is stored.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="codec"/> is not a known codec.</exception>
    public static long GetMaxValidLength(TensorLayout layout, PayloadCodec codec)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (!Enum.IsDefined(codec)) throw new ArgumentOutOfRangeException(nameof(codec), codec, "The codec must be identity or FedZip.");
        long total = PayloadFormat.HeaderLength + PayloadFormat.ChecksumLength + PayloadFormat.LayoutSectionLength(layout);
        if (codec == PayloadCodec.FedZip) total += PayloadFormat.FedZipBodyHeaderLength;
        foreach (var t in layout.Tensors)
        {
            long n = t.Length, dense = 4 * n;
            if (codec == PayloadCodec.Identity)
            {
                total += PayloadFormat.RecordHeaderLength + dense;
                continue;
            }
            long clusters = Math.Min(n, FedZipOptions.MaxClusters);
            long huffmanIndices = (n * CanonicalHuffman.MaxCodeLength + 7) / 8;
            long bitmap = 5 * clusters + (n + 7) / 8 + huffmanIndices;
            long positions = 4 * clusters + (n * PayloadReader.FixedWidth((int)n) + 7) / 8 + (n * PayloadReader.FixedWidth((int)clusters) + 7) / 8;
            // Per entry a unary quotient, its stop bit and at most 30 Rice bits; the quotients sum to at most n.
            long gaps = 5 * clusters + (n + 31 * n + 7) / 8 + huffmanIndices;
            total += PayloadFormat.RecordHeaderLength + Math.Max(Math.Max(dense, bitmap), Math.Max(positions, gaps));
        }
        return total;
    }

    /// <summary>
    /// Multiplies every value <paramref name="payload"/> decodes to by <paramref name="factor"/>, in place:
    /// the floats of dense tensors and the centroids of sparse ones, then its CRC-32C. Length, structure and
    /// codec stay as they were, so every decoder folds the result unchanged. For clipping an update's norm.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="factor"/> is not in (0, 1].</exception>
    /// <exception cref="InvalidPayloadException">The payload is malformed, corrupted, or not for <paramref name="layout"/>.</exception>
    public static void Scale(Span<byte> payload, TensorLayout layout, float factor)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (!(factor > 0 && factor <= 1)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "The scale factor must be in (0, 1], so every value stays finite.");
        var codec = CodecFor(payload).Codec;
        var reader = PayloadReader.Read(payload, layout, codec);
        foreach (var r in reader.Records)
        {
            if (r.Mode == TensorSectionMode.Dense) ScaleFloats(payload.Slice(r.ValuesAt, r.ValueBytes), factor);
            else ScaleFloats(payload.Slice(r.CentroidsAt, 4 * r.Clusters), factor);
        }
        PayloadFormat.WriteChecksum(payload);
    }

    private static void ScaleFloats(Span<byte> section, float factor)
    {
        if (BitConverter.IsLittleEndian)
        {
            var values = MemoryMarshal.Cast<byte, float>(section);
            TensorPrimitives.Multiply(values, factor, values);
            return;
        }
        for (int i = 0; i < section.Length; i += 4)
            BinaryPrimitives.WriteSingleLittleEndian(section[i..], factor * BinaryPrimitives.ReadSingleLittleEndian(section[i..]));
    }

    /// <summary>
    /// Reads a payload's header, layout, settings and per-tensor records without decoding the streams.
    /// A CRC mismatch is reported in <see cref="PayloadDescription.ChecksumValid"/> rather than thrown,
    /// so a damaged file can still be looked at.
    /// </summary>
    /// <exception cref="InvalidPayloadException">The structure itself is malformed.</exception>
    public static PayloadDescription Describe(ReadOnlySpan<byte> payload)
    {
        var reader = PayloadReader.Read(payload, expected: null, expectedCodec: null);
        var layout = reader.EmbeddedLayout;
        var tensors = new TensorSectionDescription[reader.Records.Length];
        for (int i = 0; i < tensors.Length; i++)
        {
            var r = reader.Records[i];
            var centroids = new float[r.Clusters];
            for (int j = 0; j < centroids.Length; j++)
                centroids[j] = BinaryPrimitives.ReadSingleLittleEndian(payload[(r.CentroidsAt + 4 * j)..]);
            var spec = layout?.Tensors[i];
            tensors[i] = new TensorSectionDescription(i, spec?.Name, spec?.Shape, r.Mode, r.Elements, r.Kept, r.Clusters,
                r.Parameter, centroids, r.PositionBytes, r.ValueBytes, r.RecordBytes);
        }
        var fedZip = reader.FedZip;
        return new PayloadDescription(reader.Header, reader.ChecksumValid, layout, fedZip?.TopZ, fedZip?.Clusters,
            fedZip?.Encoding, fedZip?.DenseThreshold, tensors);
    }
}
