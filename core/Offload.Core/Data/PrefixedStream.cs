namespace Offload.Core.Data;

/// <summary>
/// A read-only stream that replays a few bytes already read and then continues with the inner
/// stream. It lets <see cref="IdxReader"/> sniff the gzip header of streams that cannot seek back.
/// </summary>
internal sealed class PrefixedStream(byte[] prefix, int prefixLength, Stream inner) : Stream
{
    private int _replayed;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException("A prefixed stream has no length.");

    public override long Position
    {
        get => throw new NotSupportedException("A prefixed stream has no position.");
        set => throw new NotSupportedException("A prefixed stream cannot seek.");
    }

    public override int Read(Span<byte> buffer)
    {
        if (_replayed < prefixLength)
        {
            int n = Math.Min(buffer.Length, prefixLength - _replayed);
            prefix.AsSpan(_replayed, n).CopyTo(buffer);
            _replayed += n;
            return n;
        }
        return inner.Read(buffer);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A prefixed stream cannot seek.");
    public override void SetLength(long value) => throw new NotSupportedException("A prefixed stream is read-only.");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("A prefixed stream is read-only.");
}
