namespace Offload.Client.Federation;

/// <summary>How far an upload has come.</summary>
/// <param name="BytesAcknowledged">Payload bytes the gateway holds or has been sent in this attempt, counted from 0.</param>
/// <param name="TotalBytes">Payload bytes in all.</param>
/// <param name="Attempt">1 for the first try, then 2, 3, ... after failures.</param>
/// <param name="ResumedFrom">The offset this attempt resumed from (0 when it started over).</param>
public readonly record struct UploadProgress(long BytesAcknowledged, long TotalBytes, int Attempt, long ResumedFrom);
