using Microsoft.Win32.SafeHandles;
using Offload.Aggregator.Rounds;

namespace Offload.Aggregator.Journal;

/// <summary>A <see cref="PayloadDraft"/> of a <see cref="PayloadLog"/>: a range of a round's file, written as the upload streams.</summary>
internal sealed class LogDraft : PayloadDraft
{
    internal LogDraft(PayloadLog log, long round, SafeFileHandle handle, long offset, long length)
        : base(length)
    {
        Log = log;
        Round = round;
        Handle = handle;
        Offset = offset;
    }

    /// <summary>The log that set the range aside.</summary>
    public PayloadLog Log { get; }

    /// <summary>The round whose file holds the range.</summary>
    public long Round { get; }

    /// <summary>That file, as the log opened it.</summary>
    public SafeFileHandle Handle { get; }

    /// <summary>Where the range starts in the file.</summary>
    public long Offset { get; }

    protected override void WriteCore(long position, ReadOnlySpan<byte> data)
    {
        try
        {
            // pwrite at the draft's own offsets, beside other uploads. No early writeback (sync_file_range)
            // is asked for: it measured slower here, as it can block the upload's thread behind the disk's queue.
            RandomAccess.Write(Handle, data, Offset + position);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // A full disk, or the round's file closed under the upload: the payload is written at acceptance instead.
            Failed = true;
        }
    }
}
