using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Aggregator.Asynchronous;

/// <summary>
/// Settings of buffered asynchronous aggregation served to devices (FedBuff, Nguyen et al. 2022);
/// immutable, <see cref="Validate"/> names the first bad one.
/// </summary>
public sealed record AsynchronousOptions
{
    /// <summary>Model versions to publish; the federation is done after the last.</summary>
    public int Versions { get; init; } = 10;

    /// <summary>Updates per server step (K): every K arrivals a new version is published.</summary>
    public int BufferSize { get; init; } = 10;

    /// <summary>Tasks out at once (devices training); 0 gives one to every device that asks.</summary>
    public int Concurrency { get; init; }

    /// <summary>
    /// The staleness the server keeps base models for: the window holds this many past versions
    /// besides the current one. An update from an older version is weighted by the fall-back, which
    /// needs no base model, never folded as if fresh.
    /// </summary>
    public int MaxStaleness { get; init; } = 16;

    /// <summary>A bound on the bytes of the window's models; 0 for none. With one, the window is the smaller of the two.</summary>
    public long MaxHistoryBytes { get; init; }

    /// <summary>Scale of the server step along the buffered mean.</summary>
    public double ServerLearningRate { get; init; } = 1.0;

    /// <summary>Local training every task asks for.</summary>
    public TrainingOptions Plan { get; init; } = new(1, 16, 0.1);

    /// <summary>How long a task stays valid: a device that vanished frees its place (see <see cref="Concurrency"/>) after it.</summary>
    public TimeSpan TaskLifetime { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How long a device told to wait should wait before asking again.</summary>
    public TimeSpan WaitRetry { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Stale updates that may wait for the corrector; past it, stale uploads are pushed back.</summary>
    public int CorrectionQueueCapacity { get; init; } = 4;

    /// <summary>
    /// With a corrector that does more than weight (DC-ASGD, inversion): stale updates at least this
    /// many versions old go to it; younger ones are weighted by the fall-back. When more devices train
    /// at once than K, nearly every update is a version or two old, and correcting each would cost more
    /// than that staleness is worth.
    /// </summary>
    public int CorrectFrom { get; init; } = 1;

    /// <summary>Past versions devices may still download (a task names the version it was given, which the server may have moved past).</summary>
    public const int ServedVersions = 4;

    /// <summary>The window of past models, the current one included, for models of <paramref name="layout"/>.</summary>
    public int WindowFor(TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int window = MaxStaleness + 1;
        if (MaxHistoryBytes > 0)
        {
            long modelBytes = (long)layout.TotalLength * sizeof(float);
            window = (int)Math.Min(window, Math.Max(1, MaxHistoryBytes / Math.Max(1, modelBytes)));
        }
        return window;
    }

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The message names the setting and its range.</exception>
    public AsynchronousOptions Validate()
    {
        if (Versions < 1) throw new ArgumentOutOfRangeException(nameof(Versions), Versions, "At least one version must be published.");
        if (BufferSize < 1) throw new ArgumentOutOfRangeException(nameof(BufferSize), BufferSize, "The buffer size K must be at least 1.");
        if (Concurrency < 0) throw new ArgumentOutOfRangeException(nameof(Concurrency), Concurrency, "The concurrency must be 0 (any device that asks) or positive.");
        if (MaxStaleness is < 0 or > 10_000) throw new ArgumentOutOfRangeException(nameof(MaxStaleness), MaxStaleness, "The window's staleness must be 0..10000 versions.");
        if (MaxHistoryBytes < 0) throw new ArgumentOutOfRangeException(nameof(MaxHistoryBytes), MaxHistoryBytes, "The window's byte bound must be 0 (none) or positive.");
        if (!(ServerLearningRate > 0) || !double.IsFinite(ServerLearningRate))
            throw new ArgumentOutOfRangeException(nameof(ServerLearningRate), ServerLearningRate, "The server learning rate must be positive and finite.");
        ArgumentNullException.ThrowIfNull(Plan);
        if (TaskLifetime <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(TaskLifetime), TaskLifetime, "A task's lifetime must be positive.");
        if (WaitRetry <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(WaitRetry), WaitRetry, "The wait before asking again must be positive.");
        if (CorrectFrom < 1) throw new ArgumentOutOfRangeException(nameof(CorrectFrom), CorrectFrom, "Corrections start at a staleness of at least 1.");
        if (CorrectionQueueCapacity < 1) throw new ArgumentOutOfRangeException(nameof(CorrectionQueueCapacity), CorrectionQueueCapacity, "The correction queue must hold at least one update.");
        return this;
    }
}
