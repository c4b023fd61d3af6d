using Offload.Core.Model;

namespace Offload.Core.Codec;

/// <summary>
/// The update as raw little-endian float32, one dense record per tensor, in the same framed format
/// as FedZip (header, optional layout, CRC-32C). The baseline every compressed codec is measured against,
/// and the codec to use when the network is not the bottleneck.
/// </summary>
public sealed class IdentityCodec : IUpdateCodec
{
    /// <summary>Creates the codec.</summary>
    /// <param name="embedLayout">Whether to write tensor names and shapes into each payload (for inspection).</param>
    public IdentityCodec(bool embedLayout = false)
    {
        EmbedLayout = embedLayout;
    }

    /// <summary>An identity codec that does not embed the layout.</summary>
    public static IdentityCodec Instance { get; } = new();

    /// <summary>Whether payloads carry the layout's names and shapes.</summary>
    public bool EmbedLayout { get; }

    /// <inheritdoc/>
    public PayloadCodec Codec => PayloadCodec.Identity;

    /// <inheritdoc/>
    public int GetMaxEncodedLength(TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return checked((int)EncodedLength(layout));
    }

    private long EncodedLength(TensorLayout layout)
    {
        long total = PayloadFormat.HeaderLength + PayloadFormat.ChecksumLength
            + (long)layout.Tensors.Count * PayloadFormat.RecordHeaderLength + 4L * layout.TotalLength;
        if (EmbedLayout) total += PayloadFormat.LayoutSectionLength(layout);
        if (total > int.MaxValue)
            throw new ArgumentException($"An identity payload for {layout.TotalLength} parameters would exceed 2 GiB.", nameof(layout));
        return total;
    }

    /// <inheritdoc/>
    public byte[] Encode(ReadOnlySpan<float> delta, TensorLayout layout, Span<float> reconstruction = default)
    {
        Validate(delta, layout, reconstruction);
        var payload = new byte[EncodedLength(layout)];
        Write(delta, layout, payload, reconstruction);
        return payload;
    }

    /// <inheritdoc/>
    public bool TryEncode(ReadOnlySpan<float> delta, TensorLayout layout, Span<byte> destination, out int bytesWritten, Span<float> reconstruction = default)
    {
        Validate(delta, layout, reconstruction);
        long length = EncodedLength(layout);
        if (length > destination.Length)
        {
            bytesWritten = 0;
            return false;
        }
        bytesWritten = (int)length;
        Write(delta, layout, destination[..bytesWritten], reconstruction);
        return true;
    }

    private void Validate(ReadOnlySpan<float> delta, TensorLayout layout, Span<float> reconstruction) =>
        PayloadFormat.ValidateEncoderInput(delta, layout, reconstruction, EmbedLayout);

    private void Write(ReadOnlySpan<float> delta, TensorLayout layout, Span<byte> payload, Span<float> reconstruction)
    {
        PayloadFormat.WriteHeader(payload, PayloadCodec.Identity, layout, EmbedLayout, payload.Length);
        int at = PayloadFormat.HeaderLength;
        if (EmbedLayout) at += PayloadFormat.WriteLayout(payload[at..], layout);
        foreach (var t in layout.Tensors)
        {
            int n = t.Length;
            PayloadFormat.WriteRecordHeader(payload[at..], TensorSectionMode.Dense, 0, 0, n, n, 0, 4 * n);
            at += PayloadFormat.RecordHeaderLength;
            FedZipEncoder.WriteFloats(payload.Slice(at, 4 * n), delta.Slice(t.Offset, n));
            at += 4 * n;
        }
        PayloadFormat.WriteChecksum(payload);
        if (!reconstruction.IsEmpty) delta.CopyTo(reconstruction);
    }

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<byte> payload, TensorLayout layout, Span<float> destination) =>
        UpdateDecoder.Decode(payload, layout, PayloadCodec.Identity, destination);

    /// <inheritdoc/>
    public void DecodeAndAccumulate(ReadOnlySpan<byte> payload, TensorLayout layout, Span<float> accumulator, float weight) =>
        UpdateDecoder.DecodeAndAccumulate(payload, layout, PayloadCodec.Identity, accumulator, weight);
}
