using Offload.Core.Model;

namespace Offload.Core.Codec;

/// <summary>
/// FedZip (Malekijoo et al., 2021) as a decodable bitstream: per tensor, top-z sparsification,
/// optimal k-means quantization of the kept values, and compact position and index streams.
/// Tensors below <see cref="FedZipOptions.DenseThreshold"/> travel dense. The format is in docs/fedzip-format.md.
/// </summary>
/// <remarks>
/// Decoding needs no options: any FedZip payload decodes with any instance. Pair the encoder with
/// <see cref="ErrorFeedback"/> on the client (on by default in <see cref="FedZipOptions.ErrorFeedback"/>).
/// </remarks>
public sealed class FedZipCodec : IUpdateCodec
{
    /// <summary>Creates a codec with the given settings.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public FedZipCodec(FedZipOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>Creates a codec with <see cref="FedZipOptions.Default"/>.</summary>
    public FedZipCodec() : this(FedZipOptions.Default) { }

    /// <summary>The settings the encoder uses.</summary>
    public FedZipOptions Options { get; }

    /// <inheritdoc/>
    public PayloadCodec Codec => PayloadCodec.FedZip;

    /// <inheritdoc/>
    public int GetMaxEncodedLength(TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        long length = FedZipEncoder.MaxEncodedLength(layout, Options);
        if (length > int.MaxValue)
            throw new ArgumentException($"A FedZip payload for {layout.TotalLength} parameters could exceed 2 GiB.", nameof(layout));
        return (int)length;
    }

    /// <inheritdoc/>
    public byte[] Encode(ReadOnlySpan<float> delta, TensorLayout layout, Span<float> reconstruction = default)
    {
        Validate(delta, layout, reconstruction);
        int max = GetMaxEncodedLength(layout);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(max);
        try
        {
            FedZipEncoder.TryEncode(delta, layout, Options, buffer, out int written, reconstruction);
            return buffer.AsSpan(0, written).ToArray();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc/>
    public bool TryEncode(ReadOnlySpan<float> delta, TensorLayout layout, Span<byte> destination, out int bytesWritten, Span<float> reconstruction = default)
    {
        Validate(delta, layout, reconstruction);
        return FedZipEncoder.TryEncode(delta, layout, Options, destination, out bytesWritten, reconstruction);
    }

    private void Validate(ReadOnlySpan<float> delta, TensorLayout layout, Span<float> reconstruction) =>
        PayloadFormat.ValidateEncoderInput(delta, layout, reconstruction, Options.EmbedLayout);

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<byte> payload, TensorLayout layout, Span<float> destination) =>
        UpdateDecoder.Decode(payload, layout, PayloadCodec.FedZip, destination);

    /// <inheritdoc/>
    public void DecodeAndAccumulate(ReadOnlySpan<byte> payload, TensorLayout layout, Span<float> accumulator, float weight) =>
        UpdateDecoder.DecodeAndAccumulate(payload, layout, PayloadCodec.FedZip, accumulator, weight);
}
