using System.Buffers.Binary;
using System.Numerics;

namespace Offload.Core.Codec;

/// <summary>
/// Reads bit fields least-significant bit first from an untrusted section. Reading past the end
/// yields zero bits instead of failing, so hot loops stay branch-light; every loop that reads is
/// bounded by a count the decoder has already validated, and <see cref="EnsureConsumedExactly"/>
/// rejects a section that was too short or has trailing bytes.
/// </summary>
internal ref struct BitReader
{
    private readonly ReadOnlySpan<byte> _source;
    private readonly string _section;
    private long _position; // bytes pulled into the buffer, counting virtual zero bytes past the end
    private ulong _buffer;
    private int _count;

    public BitReader(ReadOnlySpan<byte> source, string section)
    {
        _source = source;
        _section = section;
    }

    /// <summary>Bits consumed so far.</summary>
    public readonly long ConsumedBits => _position * 8 - _count;

    /// <summary>True once more bits were consumed than the section holds.</summary>
    public readonly bool Overrun => ConsumedBits > (long)_source.Length * 8;

    /// <summary>Makes at least 56 bits available in the buffer (never more than 63, so shifts stay defined).</summary>
    private void Refill()
    {
        if (_position + 8 <= _source.Length)
        {
            _buffer |= BinaryPrimitives.ReadUInt64LittleEndian(_source.Slice((int)_position, 8)) << _count;
            _position += (63 - _count) >> 3;
            _count |= 56;
            return;
        }
        while (_count <= 55)
        {
            ulong b = _position < _source.Length ? _source[(int)_position] : 0UL;
            _buffer |= b << _count;
            _position++;
            _count += 8;
        }
    }

    /// <summary>The next <paramref name="bits"/> bits (0 to 32) without consuming them.</summary>
    public uint Peek(int bits)
    {
        if (_count < bits) Refill();
        return (uint)(_buffer & ((1UL << bits) - 1));
    }

    /// <summary>Drops <paramref name="bits"/> bits already made available by <see cref="Peek"/>.</summary>
    public void Skip(int bits)
    {
        _buffer >>= bits;
        _count -= bits;
    }

    /// <summary>Reads <paramref name="bits"/> bits (0 to 32).</summary>
    public uint Read(int bits)
    {
        uint value = Peek(bits);
        Skip(bits);
        return value;
    }

    /// <summary>Reads a unary number (zeros ended by a one), failing once it exceeds <paramref name="limit"/>.</summary>
    /// <exception cref="InvalidPayloadException">The run of zeros is longer than <paramref name="limit"/> or runs off the section.</exception>
    public long ReadUnary(long limit)
    {
        long zeros = 0;
        while (true)
        {
            if (_count < 32) Refill();
            // Bits above _count may already hold the next bytes (the fast refill reads ahead); ignore them.
            ulong valid = _buffer & ((1UL << _count) - 1);
            if (valid != 0)
            {
                int run = BitOperations.TrailingZeroCount(valid);
                zeros += run;
                if (zeros > limit) break;
                Skip(run + 1);
                return zeros;
            }
            zeros += _count;
            Skip(_count);
            if (zeros > limit || Overrun) break;
        }
        throw new InvalidPayloadException($"The {_section} section holds a unary run longer than {limit} bits or runs past its end.");
    }

    /// <summary>Checks that the section was read to its last byte, not beyond, and that the padding bits are zero.</summary>
    /// <exception cref="InvalidPayloadException">The section is too short, too long, or has non-zero padding.</exception>
    public void EnsureConsumedExactly()
    {
        long consumed = ConsumedBits;
        long available = (long)_source.Length * 8;
        if (consumed > available)
            throw new InvalidPayloadException($"The {_section} section is truncated: it needs {(consumed + 7) / 8} bytes but holds {_source.Length}.");
        if ((consumed + 7) / 8 != _source.Length)
            throw new InvalidPayloadException($"The {_section} section holds {_source.Length} bytes but its content ends after {(consumed + 7) / 8}.");
        int padding = (int)(available - consumed);
        if (padding > 0 && Read(padding) != 0)
            throw new InvalidPayloadException($"The {_section} section has non-zero padding bits.");
    }
}
