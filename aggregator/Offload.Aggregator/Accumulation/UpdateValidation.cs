using Offload.Core.Model;

namespace Offload.Aggregator.Accumulation;

/// <summary>The checks every fold makes before it touches a sum, in one place so flat and tree folding agree.</summary>
internal static class UpdateValidation
{
    /// <summary>Throws unless <paramref name="weight"/> is positive and finite.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The weight is zero, negative, NaN or infinite.</exception>
    public static void EnsureWeight(double weight)
    {
        if (!(weight > 0) || !double.IsFinite(weight))
            throw new ArgumentOutOfRangeException(nameof(weight), weight, "An update's weight must be positive and finite.");
    }

    /// <summary>Throws unless <paramref name="update"/> matches <paramref name="layout"/>, is finite, and <paramref name="weight"/> is valid.</summary>
    /// <exception cref="ArgumentException">Wrong length, or a NaN or infinity (the message gives the index).</exception>
    /// <exception cref="ArgumentOutOfRangeException">The weight is not positive and finite.</exception>
    public static void EnsureDense(TensorLayout layout, ReadOnlySpan<float> update, double weight)
    {
        layout.EnsureMatches(update, nameof(update));
        EnsureWeight(weight);
        ModelUpdate.EnsureFinite(update, nameof(update));
    }
}
