using System.Numerics.Tensors;

namespace Offload.Aggregator.Staleness;

/// <summary>
/// The staleness math as pure functions: FedAsync's staleness weights (Xie, Koyejo and Gupta,
/// "Asynchronous Federated Optimization", 2019) and DC-ASGD's first-order delay compensation
/// (Zheng et al., "Asynchronous Stochastic Gradient Descent with Delay Compensation", ICML 2017).
/// No mutation of anything but the named destination.
/// </summary>
public static class StalenessKernels
{
    /// <summary>FedAsync's polynomial weight s(tau) = (1 + tau)^-a.</summary>
    /// <exception cref="ArgumentOutOfRangeException">tau is negative or a is negative or not finite.</exception>
    public static double Polynomial(long staleness, double exponent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(staleness);
        if (!(exponent >= 0) || !double.IsFinite(exponent))
            throw new ArgumentOutOfRangeException(nameof(exponent), exponent, "The exponent a must be non-negative and finite.");
        return Math.Pow(1.0 + staleness, -exponent);
    }

    /// <summary>FedAsync's hinge weight: 1 when tau &lt;= b, else 1 / (a (tau - b) + 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException">tau or b is negative, or a is negative or not finite.</exception>
    public static double Hinge(long staleness, double slope, long threshold)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(staleness);
        ArgumentOutOfRangeException.ThrowIfNegative(threshold);
        if (!(slope >= 0) || !double.IsFinite(slope))
            throw new ArgumentOutOfRangeException(nameof(slope), slope, "The slope a must be non-negative and finite.");
        return staleness <= threshold ? 1.0 : 1.0 / (slope * (staleness - threshold) + 1.0);
    }

    /// <summary>
    /// DC-ASGD's correction in update form: <paramref name="destination"/> = delta - lambda * delta ⊙ delta ⊙ (current - base).
    /// With delta = -eta * g this is the paper's g + lambda' g ⊙ g ⊙ (w_t - w_{t-tau}) with lambda' = lambda * eta.
    /// <paramref name="destination"/> may alias <paramref name="delta"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">lambda is negative or not finite.</exception>
    public static void DcAsgd(ReadOnlySpan<float> delta, ReadOnlySpan<float> current, ReadOnlySpan<float> @base, float lambda, Span<float> destination)
    {
        if (current.Length != delta.Length || @base.Length != delta.Length || destination.Length != delta.Length)
            throw new ArgumentException($"delta has {delta.Length} elements, current {current.Length}, base {@base.Length}, destination {destination.Length}; all must agree.", nameof(destination));
        if (!(lambda >= 0) || !float.IsFinite(lambda))
            throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "lambda must be non-negative and finite.");
        const int Chunk = 4096;
        Span<float> drift = stackalloc float[Math.Min(Chunk, delta.Length)];
        for (int start = 0; start < delta.Length; start += Chunk)
        {
            int n = Math.Min(Chunk, delta.Length - start);
            var d = delta.Slice(start, n);
            var w = drift[..n];
            TensorPrimitives.Subtract(current.Slice(start, n), @base.Slice(start, n), w); // w_t - w_{t-tau}
            TensorPrimitives.Multiply(w, d, w);                                          // ⊙ delta
            TensorPrimitives.Multiply(w, d, w);                                          // ⊙ delta
            TensorPrimitives.MultiplyAdd(w, -lambda, d, destination.Slice(start, n));    // delta - lambda * ...
        }
    }

    /// <summary>||a - b||_2 / ||a||_2, the relative error of <paramref name="estimate"/> against <paramref name="reference"/>; 0 when both are zero.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static double RelativeError(ReadOnlySpan<float> reference, ReadOnlySpan<float> estimate)
    {
        if (reference.Length != estimate.Length)
            throw new ArgumentException($"reference has {reference.Length} elements, estimate {estimate.Length}.", nameof(estimate));
        double diff = 0, norm = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double e = (double)reference[i] - estimate[i];
            diff += e * e;
            norm += (double)reference[i] * reference[i];
        }
        if (norm == 0) return diff == 0 ? 0 : double.PositiveInfinity;
        return Math.Sqrt(diff / norm);
    }
}
