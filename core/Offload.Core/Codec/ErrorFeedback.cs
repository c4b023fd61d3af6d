using System.Numerics.Tensors;
using Offload.Core.Model;

namespace Offload.Core.Codec;

/// <summary>
/// A client's error-feedback residual (Seide et al., 2014; Karimireddy et al., "Error Feedback Fixes
/// SignSGD", 2019): what compression dropped from one update is added to the next, so small but
/// persistent coordinates still reach the server. Before encoding, the residual is added to the
/// delta; after, it becomes (delta + residual) - decoded.
/// </summary>
/// <remarks>One instance per client and layout; not thread-safe. Holds two float buffers of the layout's size.</remarks>
public sealed class ErrorFeedback
{
    private readonly float[] _residual;
    private readonly float[] _corrected;

    /// <summary>Creates a zero residual for <paramref name="layout"/>.</summary>
    /// <param name="codec">The codec that encodes the client's updates.</param>
    /// <param name="layout">The layout of every update.</param>
    /// <param name="enabled">When false, updates pass through unchanged and the residual stays zero.</param>
    /// <exception cref="ArgumentNullException"><paramref name="codec"/> or <paramref name="layout"/> is null.</exception>
    public ErrorFeedback(IUpdateCodec codec, TensorLayout layout, bool enabled = true)
    {
        ArgumentNullException.ThrowIfNull(codec);
        ArgumentNullException.ThrowIfNull(layout);
        Codec = codec;
        Layout = layout;
        Enabled = enabled;
        _residual = new float[layout.TotalLength];
        _corrected = enabled ? new float[layout.TotalLength] : [];
    }

    /// <summary>Error feedback for a FedZip codec, on or off as its <see cref="FedZipOptions.ErrorFeedback"/> says.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="codec"/> or <paramref name="layout"/> is null.</exception>
    public static ErrorFeedback For(FedZipCodec codec, TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(codec);
        return new ErrorFeedback(codec, layout, codec.Options.ErrorFeedback);
    }

    /// <summary>The codec updates are encoded with.</summary>
    public IUpdateCodec Codec { get; }

    /// <summary>The layout of every update.</summary>
    public TensorLayout Layout { get; }

    /// <summary>Whether the residual is carried into the next update.</summary>
    public bool Enabled { get; }

    /// <summary>What compression has dropped so far and not yet sent.</summary>
    public ReadOnlySpan<float> Residual => _residual;

    /// <summary>Adds the residual to <paramref name="delta"/>, encodes the sum and keeps what the encoding dropped.</summary>
    /// <exception cref="ArgumentException"><paramref name="delta"/> does not match the layout or is not finite.</exception>
    public byte[] Encode(ReadOnlySpan<float> delta)
    {
        if (!Enabled) return Codec.Encode(delta, Layout);
        var corrected = Correct(delta);
        byte[] payload = Codec.Encode(corrected, Layout, _residual);
        Settle(corrected);
        return payload;
    }

    /// <summary>
    /// As <see cref="Encode"/>, into <paramref name="destination"/>. Returns false only when the
    /// destination is too small; the residual is then unchanged.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="delta"/> does not match the layout or is not finite.</exception>
    public bool TryEncode(ReadOnlySpan<float> delta, Span<byte> destination, out int bytesWritten)
    {
        if (!Enabled) return Codec.TryEncode(delta, Layout, destination, out bytesWritten);
        var corrected = Correct(delta);
        // The codec writes the reconstruction into the residual buffer only when it succeeds.
        if (!Codec.TryEncode(corrected, Layout, destination, out bytesWritten, _residual)) return false;
        Settle(corrected);
        return true;
    }

    /// <summary>Forgets the residual, e.g. when the client starts from a new global model it did not train on.</summary>
    public void Reset() => Array.Clear(_residual);

    private Span<float> Correct(ReadOnlySpan<float> delta)
    {
        Layout.EnsureMatches(delta, nameof(delta));
        TensorPrimitives.Add(delta, _residual, _corrected);
        return _corrected;
    }

    /// <summary>The residual buffer holds the reconstruction; turn it into corrected - reconstruction.</summary>
    private void Settle(ReadOnlySpan<float> corrected) => TensorPrimitives.Subtract(corrected, _residual, _residual);
}
