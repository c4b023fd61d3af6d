using System.Buffers;
using System.Buffers.Binary;
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
        UpdateDecoder.Validate(payload, layout, codec is IdentityCodec ? PayloadCodec.Identity : PayloadCodec.FedZip);
        return codec;
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
