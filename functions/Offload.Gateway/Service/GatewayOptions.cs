using Offload.Core.Codec;

namespace Offload.Gateway.Service;

/// <summary>Limits and settings of the ingest gateway, immutable; <see cref="Validate"/> names the first bad one.</summary>
public sealed record GatewayOptions
{
    /// <summary>Largest update payload accepted, in bytes; larger declared or streamed uploads end with RESOURCE_EXHAUSTED.</summary>
    public long MaxUpdateBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Largest single gRPC message (one upload chunk plus framing) the gateway reads.</summary>
    public int MaxMessageBytes { get; init; } = 1024 * 1024 + 1024;

    /// <summary>Bytes per chunk of a model download.</summary>
    public int DownloadChunkBytes { get; init; } = 256 * 1024;

    /// <summary>Uploads streamed at once; more are told RESOURCE_EXHAUSTED with a retry-after-ms trailer.</summary>
    public int MaxConcurrentUploads { get; init; } = 256;

    /// <summary>What a client told to back off waits before trying again.</summary>
    public TimeSpan BusyRetryAfter { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The codec tasks ask updates to be encoded with (identity or FedZip; the gateway accepts either).</summary>
    public PayloadCodec Codec { get; init; } = PayloadCodec.Identity;

    /// <summary>The name of the node whose store holds payloads (carried by <c>UpdateArrived</c>).</summary>
    public string Node { get; init; } = Environment.MachineName;

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The message names the setting and its range.</exception>
    public GatewayOptions Validate()
    {
        if (MaxUpdateBytes < 1) throw new ArgumentOutOfRangeException(nameof(MaxUpdateBytes), MaxUpdateBytes, "The update size limit must be positive.");
        if (MaxMessageBytes < 1024) throw new ArgumentOutOfRangeException(nameof(MaxMessageBytes), MaxMessageBytes, "Messages of at least 1 KiB must be accepted.");
        if (DownloadChunkBytes < 1024 || DownloadChunkBytes > MaxMessageBytes)
            throw new ArgumentOutOfRangeException(nameof(DownloadChunkBytes), DownloadChunkBytes, $"Download chunks must be between 1 KiB and {MaxMessageBytes} bytes.");
        if (MaxConcurrentUploads < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrentUploads), MaxConcurrentUploads, "At least one upload must be allowed at a time.");
        if (BusyRetryAfter <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(BusyRetryAfter), BusyRetryAfter, "The retry delay must be positive.");
        ArgumentException.ThrowIfNullOrEmpty(Node);
        if (!Enum.IsDefined(Codec)) throw new ArgumentOutOfRangeException(nameof(Codec), Codec, "The codec must be identity or FedZip.");
        return this;
    }
}
