using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Offload.Core.Model;

namespace Offload.Core.Wire;

/// <summary>
/// A model's weights on the wire as full weights: little-endian float32 in layout order, 4 bytes per
/// parameter, no framing (the download's descriptor carries the version, layout hash and CRC-32C).
/// </summary>
public static class WeightBytes
{
    /// <summary>Bytes of <paramref name="layout"/>'s weights.</summary>
    public static long ByteLength(TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return 4L * layout.TotalLength;
    }

    /// <summary>Writes <paramref name="values"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The destination is not exactly 4 bytes per value.</exception>
    public static void Write(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (destination.Length != 4L * values.Length)
            throw new ArgumentException($"Destination holds {destination.Length} bytes; {values.Length} floats need {4L * values.Length}.", nameof(destination));
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(destination);
        else for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], values[i]);
    }

    /// <summary>Reads <paramref name="source"/> into <paramref name="destination"/>, rejecting NaN and infinity.</summary>
    /// <exception cref="ArgumentException">The source is not exactly 4 bytes per destination element.</exception>
    /// <exception cref="InvalidDataException">A value is NaN or infinite; <paramref name="destination"/> may have been written.</exception>
    public static void Read(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (source.Length != 4L * destination.Length)
            throw new ArgumentException($"Source holds {source.Length} bytes; {destination.Length} floats need {4L * destination.Length}.", nameof(source));
        if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
        else for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
        int bad = ModelUpdate.FirstNonFinite(destination);
        if (bad >= 0) throw new InvalidDataException($"Weight {bad} is {destination[bad]}; weights must be finite.");
    }
}
