using System.Buffers;

namespace Offload.Aggregator.SharedMemory;

/// <summary>A <see cref="Memory{T}"/> over bytes of the mapped store; pinning is free (mapped memory never moves).</summary>
internal sealed unsafe class MappedMemory(byte* pointer, int length) : MemoryManager<byte>
{
    public override Span<byte> GetSpan() => new(pointer, length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, length);
        return new MemoryHandle(pointer + elementIndex);
    }

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
