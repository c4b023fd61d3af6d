using System.Buffers;

namespace Offload.Aggregator.Hierarchy;

/// <summary>
/// An aggregator's output: the weighted sum of what it folded (not yet divided), the total weight
/// and how many client updates it covers. Sums compose by addition, so any tree yields the same
/// weighted mean as one flat accumulator. Owns a pooled buffer: dispose once folded.
/// </summary>
public sealed class PartialAggregate : IDisposable
{
    private float[]? _sum;
    private readonly int _length;

    internal PartialAggregate(AggregatorAddress source, float[] pooledSum, int length, double totalWeight, int updateCount)
    {
        Source = source;
        _sum = pooledSum;
        _length = length;
        TotalWeight = totalWeight;
        UpdateCount = updateCount;
    }

    /// <summary>
    /// Rebuilds a partial that was emitted elsewhere (read back from a store by a parent running in
    /// another process): copies <paramref name="sum"/> into a pooled buffer the partial owns.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The weight is negative or not finite, or the count is negative.</exception>
    public static PartialAggregate FromSum(AggregatorAddress source, ReadOnlySpan<float> sum, double totalWeight, int updateCount)
    {
        if (!(totalWeight >= 0) || !double.IsFinite(totalWeight))
            throw new ArgumentOutOfRangeException(nameof(totalWeight), totalWeight, "A partial's total weight must be finite and not negative.");
        ArgumentOutOfRangeException.ThrowIfNegative(updateCount);
        var pooled = ArrayPool<float>.Shared.Rent(Math.Max(1, sum.Length));
        sum.CopyTo(pooled);
        return new PartialAggregate(source, pooled, sum.Length, totalWeight, updateCount);
    }

    /// <summary>The aggregator that emitted it.</summary>
    public AggregatorAddress Source { get; }

    /// <summary>Sum of weight times update over every covered update.</summary>
    public ReadOnlySpan<float> Sum
    {
        get
        {
            ObjectDisposedException.ThrowIf(_sum is null, this);
            return _sum.AsSpan(0, _length);
        }
    }

    /// <summary>Sum of the covered updates' weights; 0 when the aggregator folded nothing before its deadline.</summary>
    public double TotalWeight { get; }

    /// <summary>Client updates covered.</summary>
    public int UpdateCount { get; }

    public void Dispose()
    {
        if (_sum is null) return;
        ArrayPool<float>.Shared.Return(_sum);
        _sum = null;
    }
}
