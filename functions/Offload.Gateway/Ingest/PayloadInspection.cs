using System.Buffers;
using System.Numerics.Tensors;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Gateway.Ingest;

/// <summary>
/// A stored payload read back into a pooled buffer and decoded once into a pooled model-sized buffer,
/// making every check a fold makes (structure, layout, CRC-32C, finite values), with its L2 norm.
/// Dispose it to return the buffers. For acknowledging nothing an aggregator could not fold.
/// </summary>
internal sealed class PayloadInspection : IDisposable
{
    private byte[]? _bytes;

    private PayloadInspection(byte[] bytes, int length, double norm)
    {
        _bytes = bytes;
        Length = length;
        Norm = norm;
    }

    /// <summary>Payload bytes.</summary>
    public int Length { get; }

    /// <summary>The decoded update's L2 norm, summed in double (a float sum of 3e38-sized values overflows).</summary>
    public double Norm { get; }

    /// <summary>The payload as read, or as <see cref="Scale"/> rewrote it.</summary>
    public ReadOnlyMemory<byte> Bytes => (_bytes ?? throw new ObjectDisposedException(nameof(PayloadInspection))).AsMemory(0, Length);

    /// <summary>Reads the committed payload under <paramref name="reference"/> and decodes it for <paramref name="layout"/>.</summary>
    /// <exception cref="InvalidPayloadException">The payload cannot be folded; the message says why.</exception>
    public static async Task<PayloadInspection> ReadAsync(IUpdateStore store, UpdateReference reference, int length, TensorLayout layout, CancellationToken cancellationToken)
    {
        byte[] bytes = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int read = 0;
            var stream = await store.OpenReadAsync(reference, cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                int n;
                while (read < length && (n = await stream.ReadAsync(bytes.AsMemory(read, length - read), cancellationToken).ConfigureAwait(false)) > 0) read += n;
            }
            if (read != length) throw new InvalidPayloadException($"The store holds {read} bytes of the payload; the upload declared {length}.");
            return new PayloadInspection(bytes, length, NormOf(bytes.AsSpan(0, length), layout));
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(bytes);
            throw;
        }
    }

    /// <summary>Multiplies the payload's values by <paramref name="factor"/> in (0, 1] (see <see cref="UpdatePayload.Scale"/>).</summary>
    public void Scale(TensorLayout layout, float factor) =>
        UpdatePayload.Scale((_bytes ?? throw new ObjectDisposedException(nameof(PayloadInspection))).AsSpan(0, Length), layout, factor);

    /// <summary>sqrt of the sum of squares, accumulated in double so finite floats never overflow it.</summary>
    public static double L2Norm(ReadOnlySpan<float> values)
    {
        Span<double> wide = stackalloc double[512];
        double sum = 0;
        for (int at = 0; at < values.Length; at += wide.Length)
        {
            var part = values.Slice(at, Math.Min(wide.Length, values.Length - at));
            var widened = wide[..part.Length];
            TensorPrimitives.ConvertChecked(part, widened);
            sum += TensorPrimitives.SumOfSquares<double>(widened);
        }
        return Math.Sqrt(sum);
    }

    private static double NormOf(ReadOnlySpan<byte> payload, TensorLayout layout)
    {
        var codec = UpdatePayload.CodecFor(payload);
        float[] dense = ArrayPool<float>.Shared.Rent(layout.TotalLength);
        try
        {
            // A decode validates everything before it writes; a payload that decodes here folds anywhere.
            var update = dense.AsSpan(0, layout.TotalLength);
            codec.Decode(payload, layout, update);
            return L2Norm(update);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(dense);
        }
    }

    public void Dispose()
    {
        if (_bytes is { } bytes) ArrayPool<byte>.Shared.Return(bytes);
        _bytes = null;
    }
}
