using System.Buffers.Binary;
using System.IO.Hashing;
using Offload.Core.Codec;

namespace Offload.Core.Tests.Codec;

/// <summary>Ways to damage a valid payload, for the fuzz test: each returns a new array.</summary>
internal static class PayloadMutation
{
    public enum Kind { FlipBits, RandomBytes, Truncate, Insert, Delete, HugeField, SmallField, CodeLengths, StreamBytes, SwapChunks }

    public static readonly Kind[] All = Enum.GetValues<Kind>();

    /// <summary>Recomputes the trailing CRC-32 so the parser gets past the checksum.</summary>
    public static void FixChecksum(Span<byte> payload)
    {
        if (payload.Length < 4) return;
        BinaryPrimitives.WriteUInt32LittleEndian(payload[^4..], Offload.Core.Checksums.Crc32C.HashToUInt32(payload[..^4]));
    }

    /// <summary>Sets the header's length field to the actual length (so truncations and insertions reach the body).</summary>
    public static void FixLength(Span<byte> payload)
    {
        if (payload.Length >= 12) BinaryPrimitives.WriteUInt32LittleEndian(payload[8..], (uint)payload.Length);
    }

    /// <summary>Offsets of the u32 length and count fields: header fields and each record's n, kept, P, V.</summary>
    public static int[] LengthFields(ReadOnlySpan<byte> validPayload)
    {
        var fields = new List<int> { 8, 20, 24 };
        foreach (var r in PayloadReader.Read(validPayload, null, null).Records)
            fields.AddRange([r.RecordAt + 4, r.RecordAt + 8, r.RecordAt + 12, r.RecordAt + 16]);
        return fields.ToArray();
    }

    /// <summary>Byte ranges of the code lengths and of the position and value streams.</summary>
    public static (int At, int Length)[] Streams(ReadOnlySpan<byte> validPayload, bool codeLengths)
    {
        var ranges = new List<(int, int)>();
        foreach (var r in PayloadReader.Read(validPayload, null, null).Records)
        {
            if (codeLengths) { if (r.LengthsAt >= 0) ranges.Add((r.LengthsAt, r.Clusters)); continue; }
            if (r.PositionBytes > 0) ranges.Add((r.PositionsAt, r.PositionBytes));
            if (r.ValueBytes > 0) ranges.Add((r.ValuesAt, r.ValueBytes));
            ranges.Add((r.RecordAt, 4)); // mode, parameter, clusters
        }
        return ranges.ToArray();
    }

    public static byte[] Apply(Kind kind, byte[] valid, int[] lengthFields, (int At, int Length)[] codeLengths, (int At, int Length)[] streams, Random random)
    {
        byte[] p = (byte[])valid.Clone();
        switch (kind)
        {
            case Kind.FlipBits:
                for (int i = random.Next(1, 9); i > 0; i--) p[random.Next(p.Length)] ^= (byte)(1 << random.Next(8));
                return p;
            case Kind.RandomBytes:
                for (int i = random.Next(1, 5); i > 0; i--) p[random.Next(p.Length)] = (byte)random.Next(256);
                return p;
            case Kind.Truncate:
                return p[..random.Next(p.Length)];
            case Kind.Insert:
            {
                int at = random.Next(p.Length + 1);
                var extra = new byte[random.Next(1, 9)];
                random.NextBytes(extra);
                return [.. p[..at], .. extra, .. p[at..]];
            }
            case Kind.Delete:
            {
                int at = random.Next(p.Length);
                int count = Math.Min(random.Next(1, 9), p.Length - at);
                return [.. p[..at], .. p[(at + count)..]];
            }
            case Kind.HugeField:
            case Kind.SmallField:
            {
                int at = lengthFields[random.Next(lengthFields.Length)];
                uint value = kind == Kind.HugeField
                    ? random.Next(4) switch { 0 => uint.MaxValue, 1 => int.MaxValue, 2 => 0x8000_0000u, _ => (uint)random.Next() }
                    : (uint)random.Next(0, 300);
                BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(at), value);
                return p;
            }
            case Kind.CodeLengths when codeLengths.Length > 0:
            {
                var (at, length) = codeLengths[random.Next(codeLengths.Length)];
                for (int i = random.Next(1, 3); i > 0; i--) p[at + random.Next(length)] = (byte)random.Next(0, 20);
                return p;
            }
            case Kind.StreamBytes when streams.Length > 0:
            {
                var (at, length) = streams[random.Next(streams.Length)];
                for (int i = random.Next(1, 4); i > 0; i--)
                {
                    int j = at + random.Next(length);
                    p[j] = random.Next(3) == 0 ? (byte)random.Next(256) : (byte)(p[j] ^ (1 << random.Next(8)));
                }
                return p;
            }
            case Kind.SwapChunks:
            {
                int length = random.Next(1, 9);
                if (p.Length < 2 * length) return p;
                int a = random.Next(p.Length - length), b = random.Next(p.Length - length);
                var chunk = p.AsSpan(a, length).ToArray();
                p.AsSpan(b, length).CopyTo(p.AsSpan(a, length));
                chunk.CopyTo(p.AsSpan(b, length));
                return p;
            }
            default:
                p[random.Next(p.Length)] ^= 0xFF;
                return p;
        }
    }
}
