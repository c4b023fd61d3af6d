namespace Offload.Client.Federation;

/// <summary>The gateway's acknowledgement of an update.</summary>
/// <param name="UpdateId">The gateway's reference to the stored update.</param>
/// <param name="Round">The round it counts in.</param>
/// <param name="Duplicate">Whether the gateway had already accepted it (an earlier attempt got through); it is counted once either way.</param>
/// <param name="Attempts">Calls it took, 1 when the first got through.</param>
/// <param name="BytesSent">Payload bytes sent over all attempts (resumed attempts send only the rest).</param>
public sealed record UploadReceipt(string UpdateId, long Round, bool Duplicate, int Attempts, long BytesSent);
