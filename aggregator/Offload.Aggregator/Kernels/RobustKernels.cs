using System.Buffers;
using System.Numerics.Tensors;

namespace Offload.Aggregator.Kernels;

/// <summary>
/// Byzantine-robust combinations of n individual updates, as pure functions over their buffers
/// (each at least <c>length</c> long), with pooled scratch only. Coordinate-wise rules sort each
/// coordinate's n values: for n up to 32 with a branch-free sorting network over whole rows (SIMD),
/// above that with a sort per gathered column, O(d n log n).
/// </summary>
public static class RobustKernels
{
    /// <summary>The coordinate-wise median (Yin et al. 2018): for even n the mean of the two middle values.</summary>
    /// <exception cref="ArgumentException">No update, or the destination's length differs from <paramref name="length"/>.</exception>
    public static void CoordinateMedian(IReadOnlyList<float[]> updates, int length, Span<float> destination)
    {
        int n = Check(updates, length, destination);
        int half = n / 2;
        if (n <= SmallColumn)
        {
            BySortedRows(updates, length, destination, n, half - (n % 2 == 0 ? 1 : 0), half + 1);
            return;
        }
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
        if (n <= SmallColumn)
        {
            BySortedRows(updates, length, destination, n, keep.From, keep.To);
            return;
        }
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

    /// <summary>Groups up to this size (a leaf's fan-in, typically) are sorted by the row network; larger ones by a sort per column, whose n log n beats the network's n^2 rounds.</summary>
    private const int SmallColumn = 32;

    /// <summary>Values per transposed block: 16 KiB of floats, well inside L1 with its source lines.</summary>
    private const int BlockValues = 4096;

    private static int Check(IReadOnlyList<float[]> updates, int length, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (updates.Count == 0) throw new ArgumentException("A robust combination needs at least one update.", nameof(updates));
        if (destination.Length != length) throw new ArgumentException($"Destination has {destination.Length} values; the updates have {length}.", nameof(destination));
        for (int i = 0; i < updates.Count; i++)
            if (updates[i].Length < length) throw new ArgumentException($"Update {i} holds {updates[i].Length} values; {length} are needed.", nameof(updates));
        return updates.Count;
    }

    /// <summary>
    /// For small groups: sorts each coordinate's n values with an odd-even transposition network run
    /// on whole rows (n rounds of elementwise min/max, SIMD through <see cref="TensorPrimitives"/>, no
    /// data-dependent branch), a block of coordinates at a time, then writes the mean of the sorted
    /// rows [<paramref name="from"/>, <paramref name="to"/>): the median's one or two middle rows, or the
    /// trimmed mean's kept rows. Random data makes a comparison sort mispredict nearly every branch;
    /// the network does not branch at all.
    /// </summary>
    private static void BySortedRows(IReadOnlyList<float[]> updates, int length, Span<float> destination, int n, int from, int to)
    {
        int block = Math.Max(1, BlockValues / n);
        float[] rows = ArrayPool<float>.Shared.Rent(block * n);
        float[] low = ArrayPool<float>.Shared.Rent(block);
        try
        {
            float scale = 1f / (to - from);
            for (int start = 0; start < length; start += block)
            {
                int count = Math.Min(block, length - start);
                Span<float> Row(int i) => rows.AsSpan(i * block, count);
                for (int i = 0; i < n; i++) updates[i].AsSpan(start, count).CopyTo(Row(i));
                var lower = low.AsSpan(0, count);
                for (int round = 0; round < n; round++)
                    for (int i = round & 1; i + 1 < n; i += 2)
                    {
                        var a = Row(i);
                        var b = Row(i + 1);
                        TensorPrimitives.Min(a, b, lower);
                        TensorPrimitives.Max(a, b, b);
                        lower.CopyTo(a);
                    }
                var target = destination.Slice(start, count);
                Row(from).CopyTo(target);
                for (int i = from + 1; i < to; i++) TensorPrimitives.Add(target, Row(i), target);
                if (to - from > 1) TensorPrimitives.Multiply(target, scale, target);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rows);
            ArrayPool<float>.Shared.Return(low);
        }
    }

    private static void ByColumn(IReadOnlyList<float[]> updates, int length, Span<float> destination, int n, Func<Span<float>, float> reduce)
    {
        // Blocks of coordinates, transposed so each coordinate's n values lie together: one list access
        // per update and block instead of per element, and every read streams along an update.
        int block = Math.Max(1, BlockValues / n);
        float[] rented = ArrayPool<float>.Shared.Rent(block * n);
        try
        {
            for (int start = 0; start < length; start += block)
            {
                int count = Math.Min(block, length - start);
                for (int i = 0; i < n; i++)
                {
                    var source = updates[i].AsSpan(start, count);
                    for (int b = 0; b < count; b++) rented[b * n + i] = source[b];
                }
                for (int b = 0; b < count; b++)
                {
                    var column = rented.AsSpan(b * n, n);
                    column.Sort();
                    destination[start + b] = reduce(column);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }
}
