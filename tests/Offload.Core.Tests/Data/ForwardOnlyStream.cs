namespace Offload.Core.Tests.Data;

/// <summary>A non-seekable view of a byte array, like a pipe or a network stream.</summary>
internal sealed class ForwardOnlyStream(byte[] bytes) : Stream
{
    private readonly MemoryStream _inner = new(bytes, writable: false);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException("Forward-only.");
    public override long Position { get => throw new NotSupportedException("Forward-only."); set => throw new NotSupportedException("Forward-only."); }
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
    public override int Read(Span<byte> buffer) => _inner.Read(buffer);
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("Forward-only.");
    public override void SetLength(long value) => throw new NotSupportedException("Forward-only.");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Forward-only.");
}
