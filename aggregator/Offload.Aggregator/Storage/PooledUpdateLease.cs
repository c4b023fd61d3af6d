using System.Buffers;

namespace Offload.Aggregator.Storage;

/// <summary>
/// The lease a store with no lendable memory gives: the payload read once into a pooled buffer,
/// which goes back to the pool on dispose. The one copy a stream-only store (a Dapr state store)
/// cannot avoid.
/// </summary>
internal sealed class PooledUpdateLease : UpdateLease
{
    private readonly byte[] _buffer;
    private readonly int _length;

    private PooledUpdateLease(UpdateReference reference, byte[] buffer, int length)
    {
        Reference = reference;
        _buffer = buffer;
        _length = length;
    }

    public override UpdateReference Reference { get; }

    public override ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _length);

    public override bool Copied => true;

    /// <summary>Reads the committed payload under <paramref name="reference"/> from <paramref name="store"/>'s stream.</summary>
    /// <exception cref="UpdateNotFoundException">Nothing committed is stored there.</exception>
    /// <exception cref="InvalidDataException">The payload is larger than one array holds, or shorter than the store said.</exception>
    public static async ValueTask<UpdateLease> ReadAsync(IUpdateStore store, UpdateReference reference, CancellationToken cancellationToken)
    {
        var stream = await store.OpenReadAsync(reference, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            if (stream.Length > Array.MaxLength) throw new InvalidDataException($"'{reference}' holds {stream.Length} bytes, more than one buffer can.");
            int length = (int)stream.Length;
            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            try
            {
                await stream.ReadExactlyAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            }
            catch (EndOfStreamException e)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                throw new InvalidDataException($"'{reference}' ended before the {length} bytes its store announced.", e);
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(buffer);
                throw;
            }
            return new PooledUpdateLease(reference, buffer, length);
        }
    }

    protected override void Release() => ArrayPool<byte>.Shared.Return(_buffer);
}
