namespace Offload.Gateway.Service;

/// <summary>Counters of what the gateway has seen; thread-safe, read at any time.</summary>
public sealed class GatewayMetrics
{
    private long _accepted;
    private long _duplicates;
    private long _rejected;
    private long _bytesReceived;
    private long _bytesSent;
    private long _fullDownloads;
    private long _deltaDownloads;
    private int _activeUploads;
    private int _peakActiveUploads;
    private long _busyRefusals;
    private long _concurrentStreamRefusals;
    private long _timedOutUploads;
    private long _storeFullRefusals;
    private long _correctionQueueRefusals;
    private long _refusedByValidation;
    private long _refusedByNorm;
    private long _clippedByNorm;
    private long _cappedWeights;
    private long _throttledEnrollments;

    /// <summary>Updates accepted (each counted once).</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Submissions answered as duplicates of an accepted update.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Submissions refused with an error status.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Payload bytes read from upload streams, resumed parts included.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>Model bytes written to download streams (full weights and encoded changes).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Downloads completed as full weights.</summary>
    public long FullDownloads => Interlocked.Read(ref _fullDownloads);

    /// <summary>Downloads completed as an encoded change from the device's model.</summary>
    public long DeltaDownloads => Interlocked.Read(ref _deltaDownloads);

    /// <summary>Uploads streaming now.</summary>
    public int ActiveUploads => Volatile.Read(ref _activeUploads);

    /// <summary>The most uploads streaming at once.</summary>
    public int PeakActiveUploads => Volatile.Read(ref _peakActiveUploads);

    /// <summary>Uploads told to come back later because too many were streaming.</summary>
    public long BusyRefusals => Interlocked.Read(ref _busyRefusals);

    /// <summary>Uploads refused at once because the client already streamed that task, or as many uploads as it may.</summary>
    public long ConcurrentStreamRefusals => Interlocked.Read(ref _concurrentStreamRefusals);

    /// <summary>Uploads ended for sending nothing for the idle timeout or too slowly; their bytes were deleted.</summary>
    public long TimedOutUploads => Interlocked.Read(ref _timedOutUploads);

    /// <summary>Uploads told to come back later because the update store had no room (push-back; nothing was held).</summary>
    public long StoreFullRefusals => Interlocked.Read(ref _storeFullRefusals);

    /// <summary>Uploads told to come back later because the aggregator's correction queue was full (push-back; nothing was acknowledged).</summary>
    public long CorrectionQueueRefusals => Interlocked.Read(ref _correctionQueueRefusals);

    /// <summary>Uploads refused because their payload could not be folded (malformed, not finite, wrong layout).</summary>
    public long RefusedByValidation => Interlocked.Read(ref _refusedByValidation);

    /// <summary>Uploads refused because their L2 norm was above the bound.</summary>
    public long RefusedByNorm => Interlocked.Read(ref _refusedByNorm);

    /// <summary>Updates accepted after being scaled down to the norm bound.</summary>
    public long ClippedByNorm => Interlocked.Read(ref _clippedByNorm);

    /// <summary>Updates accepted with their declared sample count lowered to the cap.</summary>
    public long CappedWeights => Interlocked.Read(ref _cappedWeights);

    /// <summary>Enrollment attempts refused unseen because the peer was backing off after failures.</summary>
    public long ThrottledEnrollments => Interlocked.Read(ref _throttledEnrollments);

    internal void CountConcurrentStreamRefusal() => Interlocked.Increment(ref _concurrentStreamRefusals);

    internal void CountTimedOut() => Interlocked.Increment(ref _timedOutUploads);

    internal void CountStoreFull() => Interlocked.Increment(ref _storeFullRefusals);

    internal void CountCorrectionQueueFull() => Interlocked.Increment(ref _correctionQueueRefusals);

    internal void CountRefusedByValidation() => Interlocked.Increment(ref _refusedByValidation);

    internal void CountRefusedByNorm() => Interlocked.Increment(ref _refusedByNorm);

    internal void CountClippedByNorm() => Interlocked.Increment(ref _clippedByNorm);

    internal void CountCappedWeight() => Interlocked.Increment(ref _cappedWeights);

    internal void CountThrottledEnrollment() => Interlocked.Increment(ref _throttledEnrollments);

    internal void CountAccepted() => Interlocked.Increment(ref _accepted);

    internal void CountDuplicate() => Interlocked.Increment(ref _duplicates);

    internal void CountRejected() => Interlocked.Increment(ref _rejected);

    internal void CountBytes(long bytes) => Interlocked.Add(ref _bytesReceived, bytes);

    internal void CountBytesSent(long bytes) => Interlocked.Add(ref _bytesSent, bytes);

    internal void CountFullDownload() => Interlocked.Increment(ref _fullDownloads);

    internal void CountDeltaDownload() => Interlocked.Increment(ref _deltaDownloads);

    internal bool TryEnterUpload(int limit)
    {
        int now = Interlocked.Increment(ref _activeUploads);
        if (now > limit)
        {
            Interlocked.Decrement(ref _activeUploads);
            Interlocked.Increment(ref _busyRefusals);
            return false;
        }
        int peak;
        while (now > (peak = Volatile.Read(ref _peakActiveUploads)) && Interlocked.CompareExchange(ref _peakActiveUploads, now, peak) != peak) { }
        return true;
    }

    internal void ExitUpload() => Interlocked.Decrement(ref _activeUploads);
}
