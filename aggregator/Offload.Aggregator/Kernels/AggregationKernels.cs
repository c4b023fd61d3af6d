using System.Numerics.Tensors;

namespace Offload.Aggregator.Kernels;

/// <summary>
/// The aggregation math as pure functions over spans: no messaging, host or tensor-library types,
/// and no mutation of anything but the named destination. Each is one SIMD pass through
/// <see cref="TensorPrimitives"/>, so throughput is bounded by memory bandwidth.
/// </summary>
public static class AggregationKernels
{
    /// <summary><paramref name="accumulator"/> += <paramref name="weight"/> * <paramref name="update"/>.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void WeightedAccumulate(Span<float> accumulator, ReadOnlySpan<float> update, float weight)
    {
        if (accumulator.Length != update.Length)
            throw new ArgumentException($"Update has {update.Length} elements; the accumulator has {accumulator.Length}.", nameof(update));
        TensorPrimitives.MultiplyAdd(update, weight, accumulator, accumulator);
    }

    /// <summary><paramref name="destination"/> = <paramref name="accumulator"/> / <paramref name="totalWeight"/>: the weighted mean.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The total weight is not positive and finite.</exception>
    public static void WeightedMean(ReadOnlySpan<float> accumulator, double totalWeight, Span<float> destination)
    {
        if (accumulator.Length != destination.Length)
            throw new ArgumentException($"Destination has {destination.Length} elements; the accumulator has {accumulator.Length}.", nameof(destination));
        if (!(totalWeight > 0) || !double.IsFinite(totalWeight))
            throw new ArgumentOutOfRangeException(nameof(totalWeight), totalWeight, "The total weight must be positive and finite.");
        TensorPrimitives.Multiply(accumulator, (float)(1.0 / totalWeight), destination);
    }

    /// <summary><paramref name="weights"/> += <paramref name="step"/> * <paramref name="meanUpdate"/>: the server's model step.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void ApplyStep(Span<float> weights, ReadOnlySpan<float> meanUpdate, float step) =>
        WeightedAccumulate(weights, meanUpdate, step);
}
