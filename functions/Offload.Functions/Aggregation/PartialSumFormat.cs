using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Offload.Aggregator.Hierarchy;

namespace Offload.Functions.Aggregation;

/// <summary>
/// How a partial sum is stored between functions: magic <c>OPS1</c>, int32 parameter count, int32
/// update count, float64 total weight (all little-endian), then the sum as little-endian float32s.
/// </summary>
public static class PartialSumFormat
{
    /// <summary>Bytes before the sum.</summary>
    public const int HeaderLength = 20;

    private static ReadOnlySpan<byte> Magic => "OPS1"u8;

    /// <summary>Encodes <paramref name="partial"/>.</summary>
    public static byte[] Encode(PartialAggregate partial)
    {
        ArgumentNullException.ThrowIfNull(partial);
        var sum = partial.Sum;
        var bytes = new byte[HeaderLength + sum.Length * sizeof(float)];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), sum.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), partial.UpdateCount);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(12), partial.TotalWeight);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Partial sums are stored little-endian; this machine is big-endian.");
        MemoryMarshal.AsBytes(sum).CopyTo(bytes.AsSpan(HeaderLength));
        return bytes;
    }

    /// <summary>Decodes a stored partial emitted by <paramref name="source"/>, expecting <paramref name="parameters"/> floats.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a partial sum of that size, or its totals are out of range.</exception>
    public static PartialAggregate Decode(ReadOnlySpan<byte> bytes, AggregatorAddress source, int parameters)
    {
        if (bytes.Length < HeaderLength || !bytes[..4].SequenceEqual(Magic))
            throw new InvalidDataException($"The partial of {source} is not a stored partial sum (no OPS1 header).");
        int length = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]);
        int updates = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        double weight = BinaryPrimitives.ReadDoubleLittleEndian(bytes[12..]);
        if (length != parameters || bytes.Length != HeaderLength + (long)length * sizeof(float))
            throw new InvalidDataException($"The partial of {source} holds {length} parameters in {bytes.Length} bytes; the model has {parameters}.");
        if (updates < 0 || !(weight >= 0) || !double.IsFinite(weight))
            throw new InvalidDataException($"The partial of {source} has {updates} updates of total weight {weight}; both must be non-negative and finite.");
        var sum = MemoryMarshal.Cast<byte, float>(bytes[HeaderLength..]);
        return PartialAggregate.FromSum(source, sum, weight, updates);
    }
}
