using System.Runtime.InteropServices;
using Offload.Core.Model;

namespace Offload.Core.Wire;

/// <summary>
/// The simplest update payload: the delta as little-endian float32 in layout order, no framing
/// (the upload's header carries the layout hash, length and checksum). Used until the FedZip codec
/// (<c>IUpdateCodec</c>) lands; the gateway and client speak it as <c>UPDATE_CODEC_RAW_FLOAT32</c>.
/// </summary>
public static class RawFloat32Payload
{
    /// <summary>Bytes of a payload for <paramref name="layout"/>: 4 per parameter.</summary>
    public static long ByteLength(TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return 4L * layout.TotalLength;
    }

    /// <summary>Encodes <paramref name="delta"/> into a new array.</summary>
    /// <exception cref="ArgumentException">The delta does not match the layout or holds a NaN or infinity.</exception>
    public static byte[] Encode(ReadOnlySpan<float> delta, TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.EnsureMatches(delta, nameof(delta));
        int bad = ModelUpdate.FirstNonFinite(delta);
        if (bad >= 0) throw new ArgumentException($"Update value at index {bad} is {delta[bad]}; updates must be finite.", nameof(delta));
        var payload = new byte[ByteLength(layout)];
        Write(delta, payload);
        return payload;
    }

    /// <summary>Writes <paramref name="values"/> as little-endian float32 into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The destination is not exactly 4 bytes per value.</exception>
    public static void Write(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (destination.Length != 4L * values.Length)
            throw new ArgumentException($"Destination holds {destination.Length} bytes; {values.Length} floats need {4L * values.Length}.", nameof(destination));
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(destination);
            return;
        }
        for (int i = 0; i < values.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], values[i]);
    }

    /// <summary>Decodes <paramref name="payload"/> into <paramref name="destination"/>, rejecting non-finite values.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> does not match the layout.</exception>
    /// <exception cref="InvalidDataException">The payload's length is not the layout's, or it holds a NaN or infinity; <paramref name="destination"/> may have been written.</exception>
    public static void Decode(ReadOnlySpan<byte> payload, TensorLayout layout, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.EnsureMatches(destination, nameof(destination));
        if (payload.Length != ByteLength(layout))
            throw new InvalidDataException($"The payload holds {payload.Length} bytes; a raw float32 update for this layout holds {ByteLength(layout)}.");
        if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(payload).CopyTo(destination);
        else
            for (int i = 0; i < destination.Length; i++)
                destination[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(payload[(4 * i)..]);
        int bad = ModelUpdate.FirstNonFinite(destination);
        if (bad >= 0) throw new InvalidDataException($"Update value at index {bad} is {destination[bad]}; updates must be finite.");
    }
}
