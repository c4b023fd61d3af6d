using System.Buffers;
using System.Numerics.Tensors;

namespace Offload.Aggregator.Kernels;

/// <summary>
/// Byzantine-robust combinations of n individual updates, as pure functions over their buffers
/// (each at least <c>length</c> long). Coordinate-wise rules gather one coordinate of every update
/// into a pooled column and sort it: O(d n log n) work, no allocation per element.
/// </summary>
public static class RobustKernels
{
    /// <summary>The coordinate-wise median (Yin et al. 2018): for even n the mean of the two middle values.</summary>
    /// <exception cref="ArgumentException">No update, or the destination's length differs from <paramref name="length"/>.</exception>
    public static void CoordinateMedian(IReadOnlyList<float[]> updates, int length, Span<float> destination)
    {
        int n = Check(updates, length, destination);
        ByColumn(updates, length, destination, n, static column =>
        {
            int half = column.Length / 2;
            return column.Length % 2 == 1 ? column[half] : (float)(((double)column[half - 1] + column[half]) / 2);
        });
    }

    /// <summary>The coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, the mean after dropping the <paramref name="trim"/> largest and smallest values.</summary>
    /// <exception cref="ArgumentException">No update, 2 * trim is not below n, or the destination's length differs.</exception>
    public static void TrimmedMean(IReadOnlyList<float[]> updates, int length, int trim, Span<float> destination)
    {
        int n = Check(updates, length, destination);
        if (trim < 0 || 2 * trim >= n) throw new ArgumentException($"Trimming {trim} from each end of {n} values leaves none.", nameof(trim));
        var keep = new KeepRange(trim, n - trim);
        ByColumn(updates, length, destination, n, column =>
        {
            double sum = 0;
            for (int i = keep.From; i < keep.To; i++) sum += column[i];
            return (float)(sum / (keep.To - keep.From));
        });
    }

    /// <summary>
    /// Krum's scores (Blanchard et al. 2017): for each update, the sum of squared L2 distances to its
    /// <paramref name="neighbours"/> nearest other updates. Lower is more central.
    /// </summary>
    /// <exception cref="ArgumentException">No update, a neighbour count outside [1, n - 1], or a scores span of the wrong length.</exception>
    public static void KrumScores(IReadOnlyList<float[]> updates, int length, int neighbours, Span<double> scores)
    {
        ArgumentNullException.ThrowIfNull(updates);
        int n = updates.Count;
        if (n == 0) throw new ArgumentException("Krum needs at least one update.", nameof(updates));
        if (scores.Length != n) throw new ArgumentException($"{scores.Length} scores for {n} updates.", nameof(scores));
        if (n == 1)
        {
            scores[0] = 0;
            return;
        }
        if (neighbours < 1 || neighbours > n - 1) throw new ArgumentException($"{neighbours} neighbours of {n} updates; 1 to {n - 1} are possible.", nameof(neighbours));
        double[] distances = ArrayPool<double>.Shared.Rent(n * n);
        double[] row = ArrayPool<double>.Shared.Rent(n);
        try
        {
            for (int i = 0; i < n; i++)
            {
                distances[i * n + i] = 0;
                for (int j = i + 1; j < n; j++)
                {
                    double d = TensorPrimitives.Distance(updates[i].AsSpan(0, length), updates[j].AsSpan(0, length));
                    distances[i * n + j] = distances[j * n + i] = d * d;
                }
            }
            for (int i = 0; i < n; i++)
            {
                int k = 0;
                for (int j = 0; j < n; j++)
                    if (j != i) row[k++] = distances[i * n + j];
                var others = row.AsSpan(0, n - 1);
                others.Sort();
                double score = 0;
                for (int j = 0; j < neighbours; j++) score += others[j];
                scores[i] = score;
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(distances);
            ArrayPool<double>.Shared.Return(row);
        }
    }

    private readonly record struct KeepRange(int From, int To);

    private static int Check(IReadOnlyList<float[]> updates, int length, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (updates.Count == 0) throw new ArgumentException("A robust combination needs at least one update.", nameof(updates));
        if (destination.Length != length) throw new ArgumentException($"Destination has {destination.Length} values; the updates have {length}.", nameof(destination));
        for (int i = 0; i < updates.Count; i++)
            if (updates[i].Length < length) throw new ArgumentException($"Update {i} holds {updates[i].Length} values; {length} are needed.", nameof(updates));
        return updates.Count;
    }

    private static void ByColumn(IReadOnlyList<float[]> updates, int length, Span<float> destination, int n, Func<Span<float>, float> reduce)
    {
        float[] rented = ArrayPool<float>.Shared.Rent(n);
        try
        {
            var column = rented.AsSpan(0, n);
            for (int j = 0; j < length; j++)
            {
                for (int i = 0; i < n; i++) column[i] = updates[i][j];
                column.Sort();
                destination[j] = reduce(column);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }
}
