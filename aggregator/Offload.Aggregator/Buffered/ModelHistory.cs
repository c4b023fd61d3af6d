using Offload.Core.Model;

namespace Offload.Aggregator.Buffered;

/// <summary>
/// A bounded window of the most recent global models, newest included, so that stale updates can
/// be related to the model they were computed from (DC-ASGD needs w_{t-tau}, gradient inversion
/// needs the whole base model). Each version is an immutable array of its own: evicting a version
/// never changes a buffer a pending correction still reads. Memory is accounted in
/// <see cref="BytesHeld"/> and <see cref="PeakBytesHeld"/>.
/// </summary>
public sealed class ModelHistory
{
    private readonly float[]?[] _ring;
    private int _count;

    /// <summary>Creates an empty window of up to <paramref name="capacity"/> versions for models laid out by <paramref name="layout"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is below 1.</exception>
    public ModelHistory(TensorLayout layout, int capacity)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Layout = layout;
        Capacity = capacity;
        _ring = new float[capacity][];
    }

    /// <summary>The layout of every model held.</summary>
    public TensorLayout Layout { get; }

    /// <summary>Most versions held at once.</summary>
    public int Capacity { get; }

    /// <summary>Versions held now.</summary>
    public int Count => _count;

    /// <summary>The oldest version held.</summary>
    /// <exception cref="InvalidOperationException">Nothing was published yet.</exception>
    public ModelVersion Oldest => _count > 0 ? new ModelVersion(Newest.Value - _count + 1) : throw new InvalidOperationException("No model has been published.");

    /// <summary>The newest version held (the current global model); v-1 before anything is published.</summary>
    public ModelVersion Newest { get; private set; } = new(-1);

    /// <summary>Bytes of weights held now.</summary>
    public long BytesHeld => (long)_count * Layout.TotalLength * sizeof(float);

    /// <summary>Largest <see cref="BytesHeld"/> so far; at most <see cref="Capacity"/> models' worth.</summary>
    public long PeakBytesHeld { get; private set; }

    /// <summary>Versions evicted so far.</summary>
    public long Evicted { get; private set; }

    /// <summary>Adds the model of <paramref name="version"/>, which must follow the newest, evicting the oldest when full. The array is kept, not copied: the caller must not change it afterwards.</summary>
    /// <exception cref="ArgumentException">The version does not follow the newest, or the weights do not match the layout.</exception>
    public void Publish(ModelVersion version, float[] weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        Layout.EnsureMatches(weights, nameof(weights));
        if (_count > 0 && version.Value != Newest.Value + 1)
            throw new ArgumentException($"Version {version} does not follow the newest held version {Newest}.", nameof(version));
        if (version.Value < 0) throw new ArgumentException($"Version {version} is negative.", nameof(version));
        if (_count == Capacity) Evicted++;
        else _count++;
        _ring[Slot(version)] = weights; // Overwrites the evicted oldest version's slot.
        Newest = version;
        PeakBytesHeld = Math.Max(PeakBytesHeld, BytesHeld);
    }

    private int Slot(ModelVersion version) => (int)(version.Value % Capacity);

    /// <summary>The weights of <paramref name="version"/> if still held. Safe to call from several threads while nothing is published.</summary>
    public bool TryGet(ModelVersion version, out ReadOnlyMemory<float> weights)
    {
        if (_count > 0 && version.CompareTo(Oldest) >= 0 && version.CompareTo(Newest) <= 0)
        {
            weights = _ring[Slot(version)];
            return true;
        }
        weights = default;
        return false;
    }
}
