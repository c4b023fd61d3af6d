namespace Offload.Gateway.Ingest;

/// <summary>
/// The clock of one upload stream: a token that fires when no message arrived for the idle timeout
/// (restarted by every message), and the average rate since the call began, which after a grace period
/// must stay above a minimum. Without them one device holding streams open keeps its slots forever.
/// </summary>
internal sealed class UploadPacing : IDisposable
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _idleTimeout;
    private readonly long _minBytesPerSecond;
    private readonly TimeSpan _grace;
    private readonly long _started;
    private readonly CancellationTokenSource _idle;
    private readonly CancellationTokenSource _linked;
    private long _bytes;

    public UploadPacing(TimeProvider time, TimeSpan idleTimeout, long minBytesPerSecond, TimeSpan grace, CancellationToken callCancelled)
    {
        _time = time;
        _idleTimeout = idleTimeout;
        _minBytesPerSecond = minBytesPerSecond;
        _grace = grace;
        _started = time.GetTimestamp();
        _idle = new CancellationTokenSource(idleTimeout, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(callCancelled, _idle.Token);
    }

    /// <summary>Cancelled when the call is, or when the stream has been idle too long.</summary>
    public CancellationToken Token => _linked.Token;

    /// <summary>Whether the idle timeout (not the caller) ended the wait.</summary>
    public bool IdleExpired => _idle.IsCancellationRequested;

    /// <summary>The idle timeout, for messages.</summary>
    public TimeSpan IdleTimeout => _idleTimeout;

    /// <summary>Records a message of <paramref name="bytes"/> payload bytes and restarts the idle timer; null when the pace is fine, else why not.</summary>
    public string? Received(long bytes)
    {
        _bytes += bytes;
        _idle.CancelAfter(_idleTimeout);
        if (_minBytesPerSecond == 0) return null;
        var elapsed = _time.GetElapsedTime(_started);
        if (elapsed <= _grace) return null;
        double rate = _bytes / elapsed.TotalSeconds;
        return rate >= _minBytesPerSecond
            ? null
            : $"The upload averaged {rate:F0} bytes/s over {elapsed.TotalSeconds:F0} s, below the {_minBytesPerSecond} bytes/s this gateway requires after {_grace.TotalSeconds:F0} s; its bytes were dropped, send it again from byte 0.";
    }

    public void Dispose()
    {
        _linked.Dispose();
        _idle.Dispose();
    }
}
