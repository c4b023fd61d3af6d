using System.Buffers;

namespace Offload.Core.Codec;

/// <summary>
/// Optimal one-dimensional k-means (least squared error) by dynamic programming over sorted values,
/// as in Wang and Song, "Ckmeans.1d.dp" (R Journal, 2011), with the divide-and-conquer speed-up
/// for monotone optima (Grønlund et al., 2017): O(k·m·log m) for m points.
/// </summary>
/// <remarks>
/// The points are the distinct sorted values with their counts, so equal values never straddle two
/// clusters and every cluster is non-empty. Above <see cref="MaxGroups"/> distinct values, runs of
/// consecutive distinct values are merged into that many groups holding equal shares of them; clusters are
/// then optimal among those whose boundaries fall between groups (a 1/4096 quantile grid), which
/// keeps the cost bounded for tensors with millions of kept entries.
/// </remarks>
internal static class OptimalKMeans1D
{
    /// <summary>Most points the dynamic programme runs on.</summary>
    public const int MaxGroups = 4096;

    /// <summary>
    /// Clusters <paramref name="sorted"/> (ascending, finite) into at most <paramref name="clusters"/>
    /// groups. Writes each cluster's mean to <paramref name="centroids"/> and its largest value to
    /// <paramref name="upperBounds"/> (both ascending) and returns the number of clusters used, which
    /// is smaller than asked when there are fewer distinct values.
    /// </summary>
    public static int Cluster(ReadOnlySpan<float> sorted, int clusters, Span<float> centroids, Span<float> upperBounds, out double squaredError)
    {
        int m = sorted.Length;
        int distinct = 1;
        for (int i = 1; i < m; i++) if (sorted[i] != sorted[i - 1]) distinct++;
        int groups = Math.Min(distinct, MaxGroups);
        int k = Math.Min(clusters, groups);

        double[] prefix = ArrayPool<double>.Shared.Rent(3 * (groups + 1));
        float[] groupUpper = ArrayPool<float>.Shared.Rent(groups);
        try
        {
            Span<double> count = prefix.AsSpan(0, groups + 1);
            Span<double> sum = prefix.AsSpan(groups + 1, groups + 1);
            Span<double> sumSq = prefix.AsSpan(2 * (groups + 1), groups + 1);
            // Values are centred on the middle of their range so sums of squares lose little to cancellation.
            double shift = ((double)sorted[0] + sorted[^1]) / 2;
            BuildGroups(sorted, shift, distinct, groups, count, sum, sumSq, groupUpper);
            var costs = new SegmentCost(count, sum, sumSq);

            Span<int> boundaries = stackalloc int[k + 1];
            squaredError = Solve(costs, groups, k, boundaries);
            for (int c = 0; c < k; c++)
            {
                int from = boundaries[c], to = boundaries[c + 1];
                centroids[c] = (float)(shift + (sum[to] - sum[from]) / (count[to] - count[from]));
                upperBounds[c] = groupUpper[to - 1];
            }
            return k;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(prefix);
            ArrayPool<float>.Shared.Return(groupUpper);
        }
    }

    /// <summary>
    /// Prefix sums (count, sum and sum of squares of value - shift) over the groups, and each group's
    /// largest value. Groups hold equal shares of the distinct values (one each when they fit).
    /// </summary>
    private static void BuildGroups(ReadOnlySpan<float> sorted, double shift, int distinct, int groups, Span<double> count, Span<double> sum, Span<double> sumSq, Span<float> groupUpper)
    {
        int m = sorted.Length;
        count[0] = sum[0] = sumSq[0] = 0;
        int group = 0, distinctSeen = 0;
        double c = 0, s = 0, q = 0;
        for (int i = 0; i < m; i++)
        {
            double v = sorted[i] - shift;
            c += 1; s += v; q += v * v;
            bool runEnds = i == m - 1 || sorted[i + 1] != sorted[i];
            if (!runEnds) continue;
            distinctSeen++;
            bool groupEnds = distinctSeen == distinct || (long)distinctSeen * groups >= (long)(group + 1) * distinct;
            if (!groupEnds) continue;
            groupUpper[group] = sorted[i];
            group++;
            count[group] = c; sum[group] = s; sumSq[group] = q;
        }
    }

    /// <summary>Minimum squared error of <paramref name="k"/> clusters over the groups; writes the cluster boundaries (group indices).</summary>
    private static double Solve(SegmentCost costs, int groups, int k, Span<int> boundaries)
    {
        double[] rowsRented = ArrayPool<double>.Shared.Rent(2 * groups);
        int[] argRented = ArrayPool<int>.Shared.Rent(k * groups);
        try
        {
            Span<double> previous = rowsRented.AsSpan(0, groups);
            Span<double> current = rowsRented.AsSpan(groups, groups);
            Span<int> arg = argRented.AsSpan(0, k * groups);
            // previous[j]: best error of c clusters over groups 0..j. One cluster: a single segment.
            for (int j = 0; j < groups; j++)
            {
                previous[j] = costs.Of(0, j + 1);
                arg[j] = 0;
            }
            for (int c = 1; c < k; c++)
            {
                // c+1 clusters need at least c+1 groups: j >= c, and the last cluster starts at i in [c, j].
                var row = arg.Slice(c * groups, groups);
                Fill(costs, previous, current, row, c, groups - 1, c, groups - 1);
                var swap = previous; previous = current; current = swap;
            }
            // Walk the starts back from the last group.
            boundaries[k] = groups;
            int end = groups - 1;
            for (int c = k - 1; c >= 0; c--)
            {
                int start = arg[c * groups + end];
                boundaries[c] = start;
                end = start - 1;
            }
            return previous[groups - 1];
        }
        finally
        {
            ArrayPool<double>.Shared.Return(rowsRented);
            ArrayPool<int>.Shared.Return(argRented);
        }
    }

    /// <summary>
    /// current[j] = min over i in [max(optLow, c), min(j, optHigh)] of previous[i-1] + cost(i..j), for j
    /// in [low, high]; the best i is monotone in j, so the range splits around the middle.
    /// </summary>
    private static void Fill(SegmentCost costs, Span<double> previous, Span<double> current, Span<int> arg, int low, int high, int optLow, int optHigh)
    {
        while (low <= high)
        {
            int mid = (low + high) >>> 1;
            double best = double.PositiveInfinity;
            int bestStart = optLow;
            int last = Math.Min(mid, optHigh);
            for (int i = optLow; i <= last; i++)
            {
                double e = previous[i - 1] + costs.Of(i, mid + 1);
                if (e < best)
                {
                    best = e;
                    bestStart = i;
                }
            }
            current[mid] = best;
            arg[mid] = bestStart;
            // Recurse on the smaller half's partner and loop on the other to bound the stack by log m.
            if (mid - low < high - mid)
            {
                Fill(costs, previous, current, arg, low, mid - 1, optLow, bestStart);
                low = mid + 1;
                optLow = bestStart;
            }
            else
            {
                Fill(costs, previous, current, arg, mid + 1, high, bestStart, optHigh);
                high = mid - 1;
                optHigh = bestStart;
            }
        }
    }

    /// <summary>Squared error of one cluster over groups [from, to) from prefix sums.</summary>
    private readonly ref struct SegmentCost(Span<double> count, Span<double> sum, Span<double> sumSq)
    {
        private readonly Span<double> _count = count;
        private readonly Span<double> _sum = sum;
        private readonly Span<double> _sumSq = sumSq;

        public double Of(int from, int to)
        {
            double c = _count[to] - _count[from];
            double s = _sum[to] - _sum[from];
            double e = (_sumSq[to] - _sumSq[from]) - s * s / c;
            return e > 0 ? e : 0;
        }
    }
}
