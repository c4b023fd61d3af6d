namespace Offload.Aggregator.Storage;

/// <summary>
/// The store has no room for a payload now. Push-back, not failure: what it already holds is
/// intact, and the same write succeeds once aggregators have folded and deleted what they read.
/// A gateway answers the device RESOURCE_EXHAUSTED with <see cref="RetryAfter"/>.
/// </summary>
public sealed class UpdateStoreFullException(UpdateReference reference, long neededBytes, long freeBytes, TimeSpan retryAfter)
    : Exception($"The update store has no room for '{reference}': it needs {neededBytes} bytes and {freeBytes} are free in one piece; try again in {(long)retryAfter.TotalMilliseconds} ms.")
{
    /// <summary>The payload that did not fit.</summary>
    public UpdateReference Reference { get; } = reference;

    /// <summary>Bytes the write needed in one piece.</summary>
    public long NeededBytes { get; } = neededBytes;

    /// <summary>The largest free piece when the write was refused.</summary>
    public long FreeBytes { get; } = freeBytes;

    /// <summary>How long a caller should wait before trying again.</summary>
    public TimeSpan RetryAfter { get; } = retryAfter;
}
