using Offload.Core.Model;

namespace Offload.Core.Codec;

/// <summary>
/// Turns a client's update (a flat float delta laid out by a <see cref="TensorLayout"/>) into the
/// bytes it uploads, and those bytes back into floats on the aggregator. Implementations are
/// immutable and safe to share between threads; every buffer belongs to the caller.
/// </summary>
/// <remarks>
/// Decoders treat the payload as untrusted: anything malformed, corrupted, written for another
/// layout or codec, or built to exhaust the decoder is rejected with <see cref="InvalidPayloadException"/>,
/// before the destination or accumulator is touched. Decoders allocate nothing that grows with a
/// length the payload declares, only with the layout the caller passes.
/// </remarks>
public interface IUpdateCodec
{
    /// <summary>The codec written into the payload header.</summary>
    PayloadCodec Codec { get; }

    /// <summary>An upper bound on the encoded size of any update for <paramref name="layout"/>.</summary>
    /// <exception cref="ArgumentException">The bound exceeds what one span can hold (2 GiB).</exception>
    int GetMaxEncodedLength(TensorLayout layout);

    /// <summary>Encodes <paramref name="delta"/> into a new array of exactly the encoded size.</summary>
    /// <param name="delta">The update, <see cref="TensorLayout.TotalLength"/> finite floats.</param>
    /// <param name="layout">How <paramref name="delta"/> is divided into tensors.</param>
    /// <param name="reconstruction">
    /// Empty, or <see cref="TensorLayout.TotalLength"/> floats that receive exactly what a decoder will
    /// produce (for error feedback). It may be the same memory as <paramref name="delta"/>.
    /// </param>
    /// <exception cref="ArgumentException">A length does not match the layout, or a value is not finite.</exception>
    byte[] Encode(ReadOnlySpan<float> delta, TensorLayout layout, Span<float> reconstruction = default);

    /// <summary>
    /// Encodes <paramref name="delta"/> into <paramref name="destination"/>. Returns false, having
    /// written nothing to <paramref name="destination"/> or <paramref name="reconstruction"/>, only
    /// when the destination is too small; a destination of <see cref="GetMaxEncodedLength"/> bytes always fits.
    /// </summary>
    /// <exception cref="ArgumentException">A length does not match the layout, or a value is not finite.</exception>
    bool TryEncode(ReadOnlySpan<float> delta, TensorLayout layout, Span<byte> destination, out int bytesWritten, Span<float> reconstruction = default);

    /// <summary>Decodes <paramref name="payload"/> into <paramref name="destination"/>; entries the encoder dropped become exactly 0.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> does not hold <see cref="TensorLayout.TotalLength"/> floats.</exception>
    /// <exception cref="InvalidPayloadException">The payload is malformed, corrupted, or not for this layout and codec; <paramref name="destination"/> is unchanged.</exception>
    void Decode(ReadOnlySpan<byte> payload, TensorLayout layout, Span<float> destination);

    /// <summary>
    /// Adds <paramref name="weight"/> times the decoded update to <paramref name="accumulator"/> without
    /// materialising the dense update: the result equals <c>accumulator[i] + weight * decoded[i]</c>
    /// computed in float, for every kept entry; dropped entries are left as they are.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="accumulator"/> does not hold <see cref="TensorLayout.TotalLength"/> floats.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is not finite.</exception>
    /// <exception cref="InvalidPayloadException">The payload is malformed, corrupted, or not for this layout and codec; <paramref name="accumulator"/> is unchanged.</exception>
    void DecodeAndAccumulate(ReadOnlySpan<byte> payload, TensorLayout layout, Span<float> accumulator, float weight);
}
