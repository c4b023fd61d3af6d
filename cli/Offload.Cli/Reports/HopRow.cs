namespace Offload.Cli.Reports;

/// <summary>One variant's hop times at one update size, from <c>offload bench hop</c>.</summary>
/// <param name="Megabytes">The size asked, in MiB.</param>
/// <param name="Bytes">The update's bytes.</param>
/// <param name="Variant">How the update moved.</param>
/// <param name="MedianMilliseconds">Median of the timed hops.</param>
/// <param name="P10Milliseconds">10th percentile.</param>
/// <param name="P90Milliseconds">90th percentile.</param>
/// <param name="Repeats">Timed hops.</param>
public sealed record HopRow(double Megabytes, long Bytes, string Variant, double MedianMilliseconds, double P10Milliseconds, double P90Milliseconds, int Repeats)
{
    /// <summary>The update's bytes over the median time.</summary>
    public double GibPerSecond => MedianMilliseconds > 0 ? Bytes / (MedianMilliseconds / 1000) / (1 << 30) : double.PositiveInfinity;

    /// <summary>Summarises <paramref name="milliseconds"/> (sorted here).</summary>
    public static HopRow From(double megabytes, long bytes, string variant, List<double> milliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfZero(milliseconds.Count);
        milliseconds.Sort();
        return new HopRow(megabytes, bytes, variant, Quantile(milliseconds, 0.5), Quantile(milliseconds, 0.1), Quantile(milliseconds, 0.9), milliseconds.Count);
    }

    private static double Quantile(List<double> sorted, double q)
    {
        double at = q * (sorted.Count - 1);
        int low = (int)Math.Floor(at);
        int high = Math.Min(low + 1, sorted.Count - 1);
        return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
    }
}
