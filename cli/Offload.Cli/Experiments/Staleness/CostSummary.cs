namespace Offload.Cli.Experiments.Staleness;

/// <summary>The distribution of a cost over many corrections.</summary>
/// <param name="Count">Number of samples.</param>
/// <param name="Median">50th percentile.</param>
/// <param name="P90">90th percentile.</param>
/// <param name="Mean">Arithmetic mean.</param>
/// <param name="Max">Largest sample.</param>
public sealed record CostSummary(int Count, double Median, double P90, double Mean, double Max)
{
    /// <summary>The summary of <paramref name="samples"/> (percentiles by linear interpolation between order statistics); zeros when empty.</summary>
    public static CostSummary Of(IEnumerable<double> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var sorted = samples.Order().ToArray();
        if (sorted.Length == 0) return new CostSummary(0, 0, 0, 0, 0);
        return new CostSummary(sorted.Length, Percentile(sorted, 0.5), Percentile(sorted, 0.9), sorted.Average(), sorted[^1]);
    }

    /// <summary>The <paramref name="q"/>-quantile of ascending <paramref name="sorted"/> (R's type 7).</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double q)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0) throw new ArgumentException("No samples.", nameof(sorted));
        if (!(q >= 0 && q <= 1)) throw new ArgumentOutOfRangeException(nameof(q), q, "q must be in [0, 1].");
        double h = (sorted.Count - 1) * q;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}
