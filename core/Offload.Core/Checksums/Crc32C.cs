using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using ArmCrc32 = System.Runtime.Intrinsics.Arm.Crc32;
using System.Runtime.Intrinsics.X86;

namespace Offload.Core.Checksums;

/// <summary>
/// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of update uploads
/// and model downloads. System.IO.Hashing 10 ships only the IEEE CRC-32 and CRC-64, so this adds the
/// Castagnoli variant on the same <see cref="NonCryptographicHashAlgorithm"/> base: SSE4.2 or Arm CRC
/// instructions where the processor has them (8 bytes a step), a table otherwise.
/// The hash bytes are little-endian, as <see cref="Crc32"/> writes them.
/// </summary>
/// <remarks>
/// One CRC instruction depends on the one before it, so a single stream runs at the instruction's
/// latency (3 cycles on x86) rather than its throughput (1 a cycle). Long inputs are therefore cut
/// into three blocks of <see cref="StreamBlock"/> bytes hashed as three independent streams, whose
/// registers are then joined: the CRC register is linear over GF(2), so
/// reg(r, A‖B‖C) = Z(Z(reg(r, A)) ⊕ reg(0, B)) ⊕ reg(0, C), where Z appends <see cref="StreamBlock"/>
/// zero bytes and is applied with four byte-indexed tables (the way zlib combines CRCs).
/// </remarks>
public sealed class Crc32C : NonCryptographicHashAlgorithm
{
    private const uint Polynomial = 0x82F63B78u;

    /// <summary>Bytes of each of the three interleaved streams.</summary>
    internal const int StreamBlock = 4096;

    private static readonly uint[] Table = BuildTable();
    private static readonly uint[] ZeroShift = BuildZeroShift(StreamBlock);
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

    /// <summary>Advances a running (un-inverted) CRC over <paramref name="source"/>; start at uint.MaxValue and invert at the end.</summary>
    internal static uint Update(uint crc, ReadOnlySpan<byte> source)
    {
        if (Sse42.X64.IsSupported)
        {
            while (source.Length >= 3 * StreamBlock)
            {
                crc = ThreeStreams(crc, source[..(3 * StreamBlock)]);
                source = source[(3 * StreamBlock)..];
            }
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

    /// <summary>Three independent SSE4.2 streams over three blocks of <see cref="StreamBlock"/> bytes, joined.</summary>
    private static uint ThreeStreams(uint crc, ReadOnlySpan<byte> source)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(source);
        const int n = StreamBlock / sizeof(ulong);
        ulong a = crc, b = 0, c = 0;
        for (int i = 0; i < n; i++)
        {
            a = Sse42.X64.Crc32(a, words[i]);
            b = Sse42.X64.Crc32(b, words[n + i]);
            c = Sse42.X64.Crc32(c, words[2 * n + i]);
        }
        return Shift((uint)(Shift((uint)a) ^ (uint)b)) ^ (uint)c;
    }

    /// <summary>The register after <see cref="StreamBlock"/> zero bytes, from <paramref name="register"/>.</summary>
    private static uint Shift(uint register)
    {
        var z = ZeroShift;
        return z[register & 0xFF] ^ z[256 + ((register >> 8) & 0xFF)] ^ z[512 + ((register >> 16) & 0xFF)] ^ z[768 + (register >> 24)];
    }

    /// <summary>Four byte-indexed tables of the linear map "append <paramref name="zeros"/> zero bytes" on the register.</summary>
    private static uint[] BuildZeroShift(int zeros)
    {
        // The image of each register bit, by running the table CRC over the zeros.
        Span<uint> column = stackalloc uint[32];
        for (int bit = 0; bit < 32; bit++)
        {
            uint register = 1u << bit;
            for (int i = 0; i < zeros; i++) register = Table[(byte)register] ^ (register >> 8);
            column[bit] = register;
        }
        var shift = new uint[4 * 256];
        for (int part = 0; part < 4; part++)
            for (int value = 0; value < 256; value++)
            {
                uint image = 0;
                for (int k = 0; k < 8; k++)
                    if ((value & (1 << k)) != 0) image ^= column[part * 8 + k];
                shift[part * 256 + value] = image;
            }
        return shift;
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
