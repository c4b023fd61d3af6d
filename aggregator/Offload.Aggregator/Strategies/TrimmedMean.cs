using Offload.Aggregator.Kernels;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, drop the floor(beta * n) largest
/// and smallest values and average the rest. With at most floor(beta * n) arbitrary inputs every
/// coordinate stays within the honest inputs' range. A group too small to trim (beta * n below 1)
/// is averaged untrimmed, and the trim never leaves fewer than one value.
/// </summary>
public sealed class TrimmedMean : RobustAggregation
{
    /// <summary>Creates the rule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">beta is outside [0, 0.5).</exception>
    public TrimmedMean(double beta = 0.1)
    {
        if (!(beta >= 0 && beta < 0.5)) throw new ArgumentOutOfRangeException(nameof(beta), beta, "beta must be in [0, 0.5).");
        Beta = beta;
    }

    /// <summary>The fraction trimmed from each end.</summary>
    public double Beta { get; }

    /// <inheritdoc/>
    public override string Name => StrategySettings.Format("trimmedmean", ("beta", Beta));

    /// <summary>Values trimmed from each end of a group of <paramref name="n"/>.</summary>
    public int TrimFor(int n) => Math.Min((int)Math.Floor(Beta * n + 1e-9), (n - 1) / 2);

    /// <inheritdoc/>
    public override void Combine(UpdateGroup group, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(group);
        RobustKernels.TrimmedMean(group.Buffers, group.Length, TrimFor(group.Count), destination);
    }
}
