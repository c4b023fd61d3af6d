using System.Buffers;
using Offload.Aggregator.Kernels;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Accumulation;

/// <summary>
/// A running weighted sum of updates in one pooled buffer. Each update is validated and folded as
/// it arrives (eager aggregation), so memory stays at one model's worth however many updates come.
/// Not thread-safe: callers serialise <see cref="Add"/>.
/// </summary>
public sealed class UpdateAccumulator : IDisposable
{
    private float[]? _sum;

    /// <summary>Creates an empty accumulator for updates laid out by <paramref name="layout"/>.</summary>
    public UpdateAccumulator(TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        Layout = layout;
        _sum = ArrayPool<float>.Shared.Rent(layout.TotalLength);
        Buffer.Clear();
    }

    /// <summary>The layout every update must have.</summary>
    public TensorLayout Layout { get; }

    /// <summary>Number of updates folded in.</summary>
    public int Count { get; private set; }

    /// <summary>Sum of the weights of the updates folded in.</summary>
    public double TotalWeight { get; private set; }

    /// <summary>The weighted sum so far.</summary>
    public ReadOnlySpan<float> Sum => Buffer;

    private Span<float> Buffer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_sum is null, this);
            return _sum.AsSpan(0, Layout.TotalLength);
        }
    }

    /// <summary>Folds <paramref name="weight"/> * <paramref name="update"/> into the sum, after validating both.</summary>
    /// <exception cref="ArgumentException">The update's length differs from the layout's or it holds a NaN or infinity.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The weight is not positive and finite.</exception>
    public void Add(ReadOnlySpan<float> update, double weight)
    {
        UpdateValidation.EnsureDense(Layout, update, weight);
        AggregationKernels.WeightedAccumulate(Buffer, update, (float)weight);
        Count++;
        TotalWeight += weight;
    }

    /// <summary>
    /// Folds an encoded update straight from its payload (fused decode and weighted add: the dense
    /// update is never materialised). The codec validates the whole payload first.
    /// </summary>
    /// <exception cref="InvalidPayloadException">The payload is malformed or not for this layout; the sum is unchanged.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The weight is not positive and finite.</exception>
    public void AddEncoded(IUpdateCodec codec, ReadOnlySpan<byte> payload, double weight)
    {
        ArgumentNullException.ThrowIfNull(codec);
        UpdateValidation.EnsureWeight(weight);
        codec.DecodeAndAccumulate(payload, Layout, Buffer, (float)weight);
        Count++;
        TotalWeight += weight;
    }

    /// <summary>Writes the weighted mean of the updates folded in so far.</summary>
    /// <exception cref="InvalidOperationException">No update has been folded in.</exception>
    public void MeanInto(Span<float> destination)
    {
        if (Count == 0) throw new InvalidOperationException("No update has been added; there is no mean.");
        AggregationKernels.WeightedMean(Buffer, TotalWeight, destination);
    }

    /// <summary>Empties the accumulator for the next round, keeping its buffer.</summary>
    public void Reset()
    {
        Buffer.Clear();
        Count = 0;
        TotalWeight = 0;
    }

    public void Dispose()
    {
        if (_sum is null) return;
        ArrayPool<float>.Shared.Return(_sum);
        _sum = null;
    }
}
