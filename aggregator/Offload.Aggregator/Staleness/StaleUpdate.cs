using Offload.Core.Model;

namespace Offload.Aggregator.Staleness;

/// <summary>
/// What a staleness corrector sees of one update: the delta, the global model it was computed from
/// and the global model it will be folded into. Buffers are borrowed, not copied: the caller keeps
/// them alive and unchanged until the correction completes (the model history hands out immutable
/// per-version arrays, so this holds by construction there).
/// </summary>
public sealed class StaleUpdate
{
    /// <summary>Creates the view after checking that the buffers agree and the versions are ordered.</summary>
    /// <exception cref="ArgumentException">Buffer lengths differ from the layout's, or the base version is ahead of the current one.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The sample count is not positive.</exception>
    public StaleUpdate(int clientId, TensorLayout layout, ReadOnlyMemory<float> delta, long sampleCount,
        ModelVersion baseVersion, ReadOnlyMemory<float> baseWeights, ModelVersion currentVersion, ReadOnlyMemory<float> currentWeights)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.EnsureMatches(delta.Span, nameof(delta));
        layout.EnsureMatches(baseWeights.Span, nameof(baseWeights));
        layout.EnsureMatches(currentWeights.Span, nameof(currentWeights));
        if (sampleCount <= 0) throw new ArgumentOutOfRangeException(nameof(sampleCount), sampleCount, "An update must come from at least one sample.");
        if (baseVersion.CompareTo(currentVersion) > 0)
            throw new ArgumentException($"The update's base version {baseVersion} is ahead of the current version {currentVersion}.", nameof(baseVersion));
        ClientId = clientId;
        Layout = layout;
        Delta = delta;
        SampleCount = sampleCount;
        BaseVersion = baseVersion;
        BaseWeights = baseWeights;
        CurrentVersion = currentVersion;
        CurrentWeights = currentWeights;
    }

    /// <summary>The client that sent the update (correctors may keep per-client state, e.g. a warm start).</summary>
    public int ClientId { get; }

    /// <summary>How the flat buffers map to tensors.</summary>
    public TensorLayout Layout { get; }

    /// <summary>The stale update: the client's new weights minus <see cref="BaseWeights"/>.</summary>
    public ReadOnlyMemory<float> Delta { get; }

    /// <summary>Samples the client trained on.</summary>
    public long SampleCount { get; }

    /// <summary>The global version the client started from.</summary>
    public ModelVersion BaseVersion { get; }

    /// <summary>The weights of <see cref="BaseVersion"/>.</summary>
    public ReadOnlyMemory<float> BaseWeights { get; }

    /// <summary>The global version the update will be folded into.</summary>
    public ModelVersion CurrentVersion { get; }

    /// <summary>The weights of <see cref="CurrentVersion"/>.</summary>
    public ReadOnlyMemory<float> CurrentWeights { get; }

    /// <summary>Versions between the client's start and now (tau).</summary>
    public long Staleness => BaseVersion.StalenessAt(CurrentVersion);

    /// <summary>A device's index for a corrector's per-client state (warm starts), stable across processes and restarts.</summary>
    public static int ClientIndexOf(string clientId)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        return (int)(System.IO.Hashing.XxHash32.HashToUInt32(System.Text.Encoding.UTF8.GetBytes(clientId)) & int.MaxValue);
    }
}
