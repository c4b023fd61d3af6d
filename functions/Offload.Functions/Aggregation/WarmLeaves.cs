using Offload.Aggregator.Strategies;
using Offload.Aggregator.Hierarchy;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Functions.Aggregation;

/// <summary>
/// The leaf sums this function instance folds eagerly, each update the moment its
/// <c>UpdateArrived</c> is accepted (LIFL's eager aggregation), so emitting a leaf costs one copy
/// instead of re-reading and decoding every payload. Only a cache: payloads stay in the store until
/// the leaf's partial is announced, so an instance that scales to zero, or a leaf whose events
/// went to several instances, loses nothing; the emitter folds from the store whatever its warm sum
/// lacks. Bounded to <see cref="Capacity"/> sums (each one model's floats, pooled); rounds older
/// than the one before the newest seen are dropped. Thread-safe.
/// </summary>
public sealed class WarmLeaves : IDisposable
{
    /// <summary>Default number of leaf sums kept.</summary>
    public const int DefaultCapacity = 16;

    private readonly object _gate = new();
    private readonly Dictionary<(long Round, int Leaf), AggregatorCore> _leaves = [];
    private long _newestRound;

    /// <summary>Creates an empty cache holding at most <paramref name="capacity"/> sums.</summary>
    public WarmLeaves(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
    }

    /// <summary>Most leaf sums kept at once.</summary>
    public int Capacity { get; }

    /// <summary>Leaf sums held now.</summary>
    public int Count
    {
        get { lock (_gate) return _leaves.Count; }
    }

    /// <summary>
    /// Folds <paramref name="weight"/> times the encoded update <paramref name="payload"/> into leaf
    /// <paramref name="leaf"/> of <paramref name="round"/> by fused decode-and-add (a FedZip payload
    /// touches only its kept coordinates); false when it was not kept (the cache is full, or the leaf
    /// was just emitted), in which case the emitter reads it from the store.
    /// </summary>
    /// <param name="validated">The caller validated these bytes and holds them unchanged (<see cref="AggregatorCore.FoldEncoded"/>): they are not checked again.</param>
    /// <param name="scale">The staleness scale on the update's contribution (<see cref="AggregatorCore.FoldEncoded"/>).</param>
    /// <exception cref="InvalidPayloadException">The payload does not decode for the layout; nothing is folded.</exception>
    public bool Fold(long round, int leaf, TensorLayout layout, AggregationStrategy strategy, string contributionId, IUpdateCodec codec, ReadOnlySpan<byte> payload, double weight,
        bool validated = false, double scale = 1.0)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(strategy);
        ArgumentNullException.ThrowIfNull(codec);
        var core = SumFor(round, leaf, layout, strategy);
        if (core is null) return false;
        try
        {
            return core.FoldEncoded(contributionId, codec, payload, weight, validated, scale) == FoldOutcome.Folded;
        }
        catch (ObjectDisposedException)
        {
            return false; // Taken and emitted meanwhile: the emitter read this update from the store.
        }
    }

    /// <summary>The warm sum of the leaf, created if there is room; null when it is not kept.</summary>
    private AggregatorCore? SumFor(long round, int leaf, TensorLayout layout, AggregationStrategy strategy)
    {
        AggregatorCore? core;
        lock (_gate)
        {
            if (round > _newestRound)
            {
                _newestRound = round;
                Evict(before: round - 1);
            }
            if (round < _newestRound - 1) return null;
            if (!_leaves.TryGetValue((round, leaf), out core))
            {
                if (_leaves.Count >= Capacity) return null;
                // The round's actor, not the sum, decides when the leaf is due: no fan-in bound here.
                core = new AggregatorCore(layout, new AggregatorAddress(round, 0, leaf), int.MaxValue, strategy);
                _leaves.Add((round, leaf), core);
            }
        }
        return core.Layout.TotalLength == layout.TotalLength ? core : null;
    }

    /// <summary>Takes the warm sum of leaf <paramref name="leaf"/> of <paramref name="round"/> out of the cache (the caller owns it), or null.</summary>
    public AggregatorCore? Take(long round, int leaf)
    {
        lock (_gate)
            return _leaves.Remove((round, leaf), out var core) ? core : null;
    }

    /// <summary>Releases every sum held.</summary>
    public void Dispose()
    {
        lock (_gate) Evict(before: long.MaxValue);
    }

    private void Evict(long before)
    {
        foreach (var key in _leaves.Keys.Where(k => k.Round < before).ToArray())
        {
            _leaves.Remove(key, out var core);
            core!.Dispose();
        }
    }
}
