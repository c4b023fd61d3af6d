using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using ArmCrc32 = System.Runtime.Intrinsics.Arm.Crc32;
using System.Runtime.Intrinsics.X86;

namespace Offload.Core.Wire;

/// <summary>
/// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of update uploads
/// and model downloads. System.IO.Hashing 10 ships only the IEEE CRC-32 and CRC-64, so this adds the
/// Castagnoli variant on the same <see cref="NonCryptographicHashAlgorithm"/> base: SSE4.2 or Arm CRC
/// instructions where the processor has them (8 bytes a step), a table otherwise.
/// The hash bytes are little-endian, as <see cref="Crc32"/> writes them.
/// </summary>
public sealed class Crc32C : NonCryptographicHashAlgorithm
{
    private const uint Polynomial = 0x82F63B78u;
    private static readonly uint[] Table = BuildTable();
    private uint _crc = uint.MaxValue;

    /// <summary>Creates a hasher with no data appended.</summary>
    public Crc32C() : base(sizeof(uint)) { }

    /// <summary>The CRC-32C of <paramref name="source"/>.</summary>
    public static uint HashToUInt32(ReadOnlySpan<byte> source) => ~Update(uint.MaxValue, source);

    /// <inheritdoc/>
    public override void Append(ReadOnlySpan<byte> source) => _crc = Update(_crc, source);

    /// <inheritdoc/>
    public override void Reset() => _crc = uint.MaxValue;

    /// <summary>The CRC-32C of everything appended so far.</summary>
    public uint GetCurrentHashAsUInt32() => ~_crc;

    /// <inheritdoc/>
    protected override void GetCurrentHashCore(Span<byte> destination) =>
        BinaryPrimitives.WriteUInt32LittleEndian(destination, ~_crc);

    private static uint Update(uint crc, ReadOnlySpan<byte> source)
    {
        if (Sse42.X64.IsSupported)
        {
            ulong wide = crc;
            var words = MemoryMarshal.Cast<byte, ulong>(source);
            foreach (ulong word in words) wide = Sse42.X64.Crc32(wide, BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word));
            crc = (uint)wide;
            source = source[(words.Length * sizeof(ulong))..];
            foreach (byte b in source) crc = Sse42.Crc32(crc, b);
            return crc;
        }
        if (ArmCrc32.Arm64.IsSupported)
        {
            var words = MemoryMarshal.Cast<byte, ulong>(source);
            foreach (ulong word in words) crc = ArmCrc32.Arm64.ComputeCrc32C(crc, BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word));
            source = source[(words.Length * sizeof(ulong))..];
            foreach (byte b in source) crc = ArmCrc32.ComputeCrc32C(crc, b);
            return crc;
        }
        var table = Table;
        foreach (byte b in source) crc = table[(byte)(crc ^ b)] ^ (crc >> 8);
        return crc;
    }

    /// <summary>The software path alone, for tests that compare it with the hardware one.</summary>
    internal static uint HashWithTable(ReadOnlySpan<byte> source)
    {
        uint crc = uint.MaxValue;
        foreach (byte b in source) crc = Table[(byte)(crc ^ b)] ^ (crc >> 8);
        return ~crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ Polynomial : c >> 1;
            table[i] = c;
        }
        return table;
    }
}
