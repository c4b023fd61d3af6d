using System.Buffers.Binary;

namespace Offload.Core.Codec;

/// <summary>
/// Writes bit fields least-significant bit first (the DEFLATE order) into a span sized in advance;
/// the encoder computes every section's exact size before it writes, so no bound checks beyond the span's.
/// </summary>
internal ref struct BitWriter
{
    private readonly Span<byte> _destination;
    private int _position;
    private ulong _buffer;
    private int _count;

    public BitWriter(Span<byte> destination)
    {
        _destination = destination;
    }

    /// <summary>Appends the low <paramref name="bits"/> bits of <paramref name="value"/> (0 to 32 bits).</summary>
    public void Write(uint value, int bits)
    {
        _buffer |= (ulong)value << _count;
        _count += bits;
        if (_count >= 32)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_destination.Slice(_position, 4), (uint)_buffer);
            _position += 4;
            _buffer >>= 32;
            _count -= 32;
        }
    }

    /// <summary>Appends <paramref name="count"/> zero bits and a one: a unary number.</summary>
    public void WriteUnary(long count)
    {
        while (count >= 31)
        {
            Write(0, 31);
            count -= 31;
        }
        Write(1u << (int)count, (int)count + 1);
    }

    /// <summary>Flushes the last partial byte (zero padded) and returns the bytes written.</summary>
    public int Finish()
    {
        while (_count > 0)
        {
            _destination[_position++] = (byte)_buffer;
            _buffer >>= 8;
            _count -= 8;
        }
        _count = 0;
        return _position;
    }
}
