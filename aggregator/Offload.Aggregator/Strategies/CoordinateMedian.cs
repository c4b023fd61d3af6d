using Offload.Aggregator.Kernels;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// Coordinate-wise median (Yin et al., "Byzantine-Robust Distributed Learning: Towards Optimal
/// Statistical Rates", ICML 2018). Breakdown point 1/2: with fewer than half of a group's inputs
/// arbitrary, every coordinate stays within the honest inputs' range.
/// </summary>
public sealed class CoordinateMedian : RobustAggregation
{
    /// <inheritdoc/>
    public override string Name => "median";

    /// <inheritdoc/>
    public override void Combine(UpdateGroup group, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(group);
        RobustKernels.CoordinateMedian(group.Buffers, group.Length, destination);
    }
}
