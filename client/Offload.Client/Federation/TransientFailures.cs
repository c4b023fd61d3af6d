using System.Globalization;
using Grpc.Core;

namespace Offload.Client.Federation;

/// <summary>Which failed calls are worth another try, and how long to wait before it.</summary>
internal static class TransientFailures
{
    /// <summary>Trailer on RESOURCE_EXHAUSTED when the gateway is only busy: milliseconds to wait.</summary>
    public const string RetryAfterTrailer = "retry-after-ms";

    /// <summary>Trailer on ABORTED or FAILED_PRECONDITION of an upload: the offset the gateway holds.</summary>
    public const string UploadOffsetTrailer = "upload-offset";

    /// <summary>
    /// UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED and INTERNAL (how a dropped HTTP/2 stream often shows);
    /// RESOURCE_EXHAUSTED only with a retry-after trailer (a size refusal has none and would fail again);
    /// for uploads, FAILED_PRECONDITION with an upload-offset trailer (the stream ended early: resume).
    /// </summary>
    public static bool IsTransient(RpcException e, bool upload) => e.StatusCode switch
    {
        StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Aborted or StatusCode.Internal => true,
        StatusCode.ResourceExhausted => e.Trailers.GetValue(RetryAfterTrailer) is not null,
        StatusCode.FailedPrecondition => upload && e.Trailers.GetValue(UploadOffsetTrailer) is not null,
        _ => false,
    };

    /// <summary>
    /// The wait before try <paramref name="attempt"/> + 1: half of min(max, initial * 2^(attempt-1))
    /// plus a random part up to the other half ("equal jitter"), or the gateway's retry-after if longer.
    /// </summary>
    public static TimeSpan Backoff(int attempt, TimeSpan initial, TimeSpan max, RpcException? failure, Random random)
    {
        double ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30)));
        double wait = ceiling / 2 + random.NextDouble() * ceiling / 2;
        if (failure?.Trailers.GetValue(RetryAfterTrailer) is { } text
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long serverMs))
            wait = Math.Max(wait, Math.Min(serverMs, max.TotalMilliseconds));
        return TimeSpan.FromMilliseconds(wait);
    }
}
