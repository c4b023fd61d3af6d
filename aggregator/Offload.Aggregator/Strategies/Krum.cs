using System.Buffers;
using System.Numerics.Tensors;
using Offload.Aggregator.Kernels;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// Krum and Multi-Krum (Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant
/// Gradient Descent", NeurIPS 2017). Each update is scored by the summed squared distances to its
/// n - f - 2 nearest others; Krum keeps the best-scored update, Multi-Krum averages the m best.
/// The guarantee needs n > 2f + 2; a smaller group (a small leaf) still runs, with at least one
/// neighbour, but the bound no longer holds, which <see cref="RobustAggregation"/> documents per leaf.
/// </summary>
public sealed class Krum : RobustAggregation
{
    /// <summary>Creates Krum (<paramref name="selected"/> = 1) or Multi-Krum (<paramref name="selected"/> above 1; 0 means n - f).</summary>
    /// <exception cref="ArgumentOutOfRangeException">f or m is negative.</exception>
    public Krum(int byzantine = 1, int selected = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(byzantine, "f");
        ArgumentOutOfRangeException.ThrowIfNegative(selected, "m");
        Byzantine = byzantine;
        Selected = selected;
    }

    /// <summary>f, the Byzantine inputs a group is assumed to hold at most.</summary>
    public int Byzantine { get; }

    /// <summary>m, how many best-scored updates are averaged (1: Krum; 0: n - f).</summary>
    public int Selected { get; }

    /// <inheritdoc/>
    public override string Name => Selected == 1
        ? StrategySettings.Format("krum", ("f", Byzantine))
        : StrategySettings.Format("multikrum", ("f", Byzantine), ("m", Selected));

    /// <summary>Neighbours scored in a group of <paramref name="n"/>: n - f - 2, at least 1 (at most n - 1).</summary>
    public int NeighboursFor(int n) => Math.Clamp(n - Byzantine - 2, 1, Math.Max(1, n - 1));

    /// <summary>Updates averaged in a group of <paramref name="n"/>.</summary>
    public int SelectedFor(int n) => Math.Clamp(Selected == 0 ? n - Byzantine : Selected, 1, n);

    /// <inheritdoc/>
    public override void Combine(UpdateGroup group, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(group);
        int n = group.Count;
        if (n == 0) throw new ArgumentException("Krum needs at least one update.", nameof(group));
        if (destination.Length != group.Length) throw new ArgumentException($"Destination has {destination.Length} values; the updates have {group.Length}.", nameof(destination));
        double[] scores = ArrayPool<double>.Shared.Rent(n);
        int[] order = ArrayPool<int>.Shared.Rent(n);
        try
        {
            RobustKernels.KrumScores(group.Buffers, group.Length, NeighboursFor(n), scores.AsSpan(0, n));
            for (int i = 0; i < n; i++) order[i] = i;
            // Ties go to the lower index, so the choice does not depend on the sort's stability.
            order.AsSpan(0, n).Sort((a, b) => scores[a] != scores[b] ? scores[a].CompareTo(scores[b]) : a.CompareTo(b));
            int m = SelectedFor(n);
            destination.Clear();
            for (int i = 0; i < m; i++) TensorPrimitives.Add(destination, group[order[i]], destination);
            if (m > 1) TensorPrimitives.Multiply(destination, 1f / m, destination);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(scores);
            ArrayPool<int>.Shared.Return(order);
        }
    }
}
