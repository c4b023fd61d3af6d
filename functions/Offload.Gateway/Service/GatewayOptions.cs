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

    /// <summary>Upload streams one client may have open at once (over all its tasks); one more is told RESOURCE_EXHAUSTED with a retry-after-ms trailer.</summary>
    public int MaxUploadsPerClient { get; init; } = 2;

    /// <summary>An upload that sends no message for this long is ended with DEADLINE_EXCEEDED and its bytes are deleted.</summary>
    public TimeSpan UploadIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After <see cref="UploadRateGrace"/>, an upload slower than this many bytes per second on average is ended like an idle one (0: no minimum).</summary>
    public long MinUploadBytesPerSecond { get; init; } = 8 * 1024;

    /// <summary>How long an upload may run before <see cref="MinUploadBytesPerSecond"/> applies.</summary>
    public TimeSpan UploadRateGrace { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Payloads read back and checked at once (each holds a payload and a model-sized buffer while it is checked).</summary>
    public int MaxConcurrentValidations { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>What happens to an update whose L2 norm is above the bound: refused, or clipped to it.</summary>
    public UpdateNormPolicy NormPolicy { get; init; } = UpdateNormPolicy.Refuse;

    /// <summary>A fixed bound on an update's L2 norm; null derives it (<see cref="NormMultiple"/>).</summary>
    public double? MaxUpdateNorm { get; init; }

    /// <summary>
    /// The derived norm bound: this multiple of the median norm of the last <see cref="BoundWindow"/> accepted
    /// updates (over this and earlier rounds) once <see cref="BoundMinimumHistory"/> are known, and before that
    /// of the global model's norm (no bound while the model is all zeros).
    /// </summary>
    public double NormMultiple { get; init; } = 10;

    /// <summary>A fixed cap on the sample count (the weight) an update may declare; null derives it (<see cref="SampleCountMultiple"/>).</summary>
    public long? MaxSampleCount { get; init; }

    /// <summary>The derived weight cap: this multiple of the median declared count of recent accepted updates, never below <see cref="SampleCountFloor"/>.</summary>
    public double SampleCountMultiple { get; init; } = 10;

    /// <summary>The least the derived weight cap can be, and the cap before <see cref="BoundMinimumHistory"/> updates are known.</summary>
    public long SampleCountFloor { get; init; } = 10_000;

    /// <summary>Accepted updates whose norms and sample counts the derived bounds look at.</summary>
    public int BoundWindow { get; init; } = 128;

    /// <summary>Accepted updates needed before the derived bounds use their median.</summary>
    public int BoundMinimumHistory { get; init; } = 5;

    /// <summary>How long a peer whose enrollment failed waits before its next attempt; doubled after each further failure.</summary>
    public TimeSpan EnrollmentBackoff { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest wait <see cref="EnrollmentBackoff"/> doubles to.</summary>
    public TimeSpan MaxEnrollmentBackoff { get; init; } = TimeSpan.FromMinutes(5);

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
        if (MaxUploadsPerClient < 1) throw new ArgumentOutOfRangeException(nameof(MaxUploadsPerClient), MaxUploadsPerClient, "Each client must be allowed at least one upload at a time.");
        if (UploadIdleTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(UploadIdleTimeout), UploadIdleTimeout, "The upload idle timeout must be positive.");
        if (MinUploadBytesPerSecond < 0) throw new ArgumentOutOfRangeException(nameof(MinUploadBytesPerSecond), MinUploadBytesPerSecond, "The minimum upload rate must be 0 (none) or positive.");
        if (UploadRateGrace < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(UploadRateGrace), UploadRateGrace, "The upload rate grace period must not be negative.");
        if (MaxConcurrentValidations < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrentValidations), MaxConcurrentValidations, "At least one payload must be checked at a time.");
        if (!Enum.IsDefined(NormPolicy)) throw new ArgumentOutOfRangeException(nameof(NormPolicy), NormPolicy, "The norm policy must be refuse or clip.");
        if (MaxUpdateNorm is { } norm && !(double.IsFinite(norm) && norm > 0)) throw new ArgumentOutOfRangeException(nameof(MaxUpdateNorm), norm, "A fixed norm bound must be a positive finite number.");
        if (!(double.IsFinite(NormMultiple) && NormMultiple >= 1)) throw new ArgumentOutOfRangeException(nameof(NormMultiple), NormMultiple, "The norm multiple must be a finite number of at least 1.");
        if (MaxSampleCount is < 1) throw new ArgumentOutOfRangeException(nameof(MaxSampleCount), MaxSampleCount, "A fixed sample-count cap must be at least 1.");
        if (!(double.IsFinite(SampleCountMultiple) && SampleCountMultiple >= 1)) throw new ArgumentOutOfRangeException(nameof(SampleCountMultiple), SampleCountMultiple, "The sample-count multiple must be a finite number of at least 1.");
        if (SampleCountFloor < 1) throw new ArgumentOutOfRangeException(nameof(SampleCountFloor), SampleCountFloor, "The sample-count floor must be at least 1.");
        if (BoundWindow < 1) throw new ArgumentOutOfRangeException(nameof(BoundWindow), BoundWindow, "The bound window must hold at least one update.");
        if (BoundMinimumHistory < 1 || BoundMinimumHistory > BoundWindow)
            throw new ArgumentOutOfRangeException(nameof(BoundMinimumHistory), BoundMinimumHistory, $"The bounds' minimum history must be between 1 and the window ({BoundWindow}).");
        if (EnrollmentBackoff <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(EnrollmentBackoff), EnrollmentBackoff, "The enrollment backoff must be positive.");
        if (MaxEnrollmentBackoff < EnrollmentBackoff) throw new ArgumentOutOfRangeException(nameof(MaxEnrollmentBackoff), MaxEnrollmentBackoff, $"The longest enrollment backoff must be at least {EnrollmentBackoff}.");
        ArgumentException.ThrowIfNullOrEmpty(Node);
        if (!Enum.IsDefined(Codec)) throw new ArgumentOutOfRangeException(nameof(Codec), Codec, "The codec must be identity or FedZip.");
        return this;
    }
}
