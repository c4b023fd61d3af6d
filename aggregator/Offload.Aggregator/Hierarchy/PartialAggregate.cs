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
