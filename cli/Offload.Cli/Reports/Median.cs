namespace Offload.Cli.Reports;

/// <summary>The median the reports and benchmarks quote (these machines are noisy: medians, not means).</summary>
public static class Median
{
    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count); NaN when there are none.</summary>
    public static double Of(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
