using System.Buffers;
using System.Numerics.Tensors;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Gateway.Ingest;

/// <summary>
/// A stored payload, borrowed from the store by lease (no copy where the store lends its memory), and
/// checked once as a fold checks it (structure, layout, CRC-32C, finite values), with its L2 norm
/// (<see cref="UpdatePayload.NormOf"/>: a dense update measured in place, a sparse one decoded into
/// pooled scratch). Dispose it to give back the lease and buffers.
/// For acknowledging nothing an aggregator could not fold.
/// </summary>
internal sealed class PayloadInspection : IDisposable
{
    private UpdateLease? _lease;
    // The payload scaled for clipping: the lease is read-only, so the one rewrite works on a copy.
    private byte[]? _scaled;

    private PayloadInspection(UpdateLease lease, int length, double norm)
    {
        _lease = lease;
        Length = length;
        Norm = norm;
    }

    /// <summary>Payload bytes.</summary>
    public int Length { get; }

    /// <summary>The decoded update's L2 norm, summed in double (a float sum of 3e38-sized values overflows).</summary>
    public double Norm { get; }

    /// <summary>The payload as read, or as <see cref="Scale"/> rewrote it.</summary>
    public ReadOnlyMemory<byte> Bytes =>
        _scaled is { } scaled ? scaled.AsMemory(0, Length) : (_lease ?? throw new ObjectDisposedException(nameof(PayloadInspection))).Memory;

    /// <summary>Reads the committed payload under <paramref name="reference"/> and decodes it for <paramref name="layout"/>.</summary>
    /// <exception cref="InvalidPayloadException">The payload cannot be folded; the message says why.</exception>
    public static async Task<PayloadInspection> ReadAsync(IUpdateStore store, UpdateReference reference, int length, TensorLayout layout, CancellationToken cancellationToken)
    {
        UpdateLease lease;
        try
        {
            lease = await store.LeaseAsync(reference, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidPayloadException($"The store could not lend the payload: {e.Message}");
        }
        try
        {
            int held = lease.Memory.Length;
            if (held != length) throw new InvalidPayloadException($"The store holds {held} bytes of the payload; the upload declared {length}.");
            // Every check a fold makes, and the norm; a dense update is measured in place, not decoded into a copy.
            return new PayloadInspection(lease, length, UpdatePayload.NormOf(lease.Memory.Span, layout));
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>Multiplies the payload's values by <paramref name="factor"/> in (0, 1] (see <see cref="UpdatePayload.Scale"/>).</summary>
    public void Scale(TensorLayout layout, float factor)
    {
        if (_scaled is null)
        {
            var source = (_lease ?? throw new ObjectDisposedException(nameof(PayloadInspection))).Memory.Span;
            _scaled = ArrayPool<byte>.Shared.Rent(Math.Max(Length, 1));
            source.CopyTo(_scaled);
        }
        UpdatePayload.Scale(_scaled.AsSpan(0, Length), layout, factor);
    }

    public void Dispose()
    {
        _lease?.Dispose();
        _lease = null;
        if (_scaled is { } scaled) ArrayPool<byte>.Shared.Return(scaled);
        _scaled = null;
    }
}
