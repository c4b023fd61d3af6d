namespace Offload.Core.Model;

/// <summary>
/// A client's update: new weights minus the weights it started from, as one flat buffer laid out
/// by <see cref="Layout"/>, with the sample count that weights it and the version it started from.
/// </summary>
public sealed class ModelUpdate
{
    /// <summary>Creates an update after validating it.</summary>
    /// <exception cref="ArgumentException">The delta does not match the layout, the sample count is not positive, or a value is not finite.</exception>
    public ModelUpdate(TensorLayout layout, float[] delta, long sampleCount, ModelVersion baseVersion)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(delta);
        layout.EnsureMatches(delta, nameof(delta));
        if (sampleCount <= 0) throw new ArgumentOutOfRangeException(nameof(sampleCount), sampleCount, "An update must be computed from at least one sample.");
        EnsureFinite(delta, nameof(delta));
        Layout = layout;
        Delta = delta;
        SampleCount = sampleCount;
        BaseVersion = baseVersion;
    }

    /// <summary>How the flat buffer maps to tensors.</summary>
    public TensorLayout Layout { get; }

    /// <summary>The parameter change, laid out by <see cref="Layout"/>.</summary>
    public float[] Delta { get; }

    /// <summary>Number of local samples the update was computed from (its FedAvg weight).</summary>
    public long SampleCount { get; }

    /// <summary>The global model version the client started from.</summary>
    public ModelVersion BaseVersion { get; }

    /// <summary>Throws when <paramref name="values"/> holds a NaN or an infinity, naming its index.</summary>
    /// <exception cref="ArgumentException">A value is not finite.</exception>
    public static void EnsureFinite(ReadOnlySpan<float> values, string parameterName)
    {
        int bad = FirstNonFinite(values);
        if (bad >= 0) throw new ArgumentException($"Update value at index {bad} is {values[bad]}; updates must be finite.", parameterName);
    }

    /// <summary>sqrt of the sum of squares, accumulated in double so finite floats never overflow it (a float sum of 3e38-sized values would).</summary>
    public static double L2Norm(ReadOnlySpan<float> values) => Math.Sqrt(SumOfSquares(values));

    /// <summary>The sum of squares of <paramref name="values"/>, in double, widened in stack blocks (no allocation).</summary>
    public static double SumOfSquares(ReadOnlySpan<float> values)
    {
        Span<double> wide = stackalloc double[512];
        double sum = 0;
        for (int at = 0; at < values.Length; at += wide.Length)
        {
            var part = values.Slice(at, Math.Min(wide.Length, values.Length - at));
            var widened = wide[..part.Length];
            System.Numerics.Tensors.TensorPrimitives.ConvertChecked(part, widened);
            sum += System.Numerics.Tensors.TensorPrimitives.SumOfSquares<double>(widened);
        }
        return sum;
    }

    /// <summary>Index of the first NaN or infinity in <paramref name="values"/>, or -1.</summary>
    public static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        // A NaN or an infinity makes the sum non-finite, so a finite sum proves every element finite.
        // The SIMD sum is far cheaper than a scalar scan; scan only when the sum says something is off.
        if (values.Length == 0 || float.IsFinite(System.Numerics.Tensors.TensorPrimitives.Sum(values))) return -1;
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1; // The sum overflowed on finite values.
    }
}
