using Offload.Aggregator.Strategies;

namespace Offload.Aggregator.Tests.Strategies;

/// <summary>
/// The robust rules against brute-force references on random inputs, their permutation invariance,
/// and their breakdown points: with f of n inputs replaced by arbitrary values, median and trimmed
/// mean stay inside the honest inputs' range per coordinate, and Krum picks an honest input.
/// </summary>
public class RobustAggregationTests
{
    private const int Length = 37;

    // Up to 32 the coordinate-wise rules run a sorting network over rows; above, a sort per column: both are covered.
    public static TheoryData<int, int> Groups => new() { { 1, 1 }, { 2, 2 }, { 3, 3 }, { 5, 4 }, { 10, 5 }, { 11, 6 }, { 20, 7 }, { 32, 8 }, { 33, 9 }, { 40, 10 } };

    [Theory]
    [MemberData(nameof(Groups))]
    public void Median_matches_brute_force_and_ignores_order(int n, int seed)
    {
        var updates = RandomUpdates(n, seed);
        var got = Combine(new CoordinateMedian(), updates);
        for (int j = 0; j < Length; j++)
        {
            var column = updates.Select(u => (double)u[j]).OrderBy(v => v).ToArray();
            double expected = n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2;
            Assert.Equal(expected, got[j], 5);
        }
        Assert.Equal(got, Combine(new CoordinateMedian(), Shuffled(updates, seed)));
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void Trimmed_mean_matches_brute_force_and_ignores_order(int n, int seed)
    {
        var rule = new TrimmedMean(0.2);
        var updates = RandomUpdates(n, seed);
        var got = Combine(rule, updates);
        int trim = rule.TrimFor(n);
        Assert.True(2 * trim < n);
        for (int j = 0; j < Length; j++)
        {
            var kept = updates.Select(u => (double)u[j]).OrderBy(v => v).Skip(trim).Take(n - 2 * trim).ToArray();
            Assert.Equal(kept.Average(), got[j], 5);
        }
        var again = Combine(rule, Shuffled(updates, seed));
        for (int j = 0; j < Length; j++) Assert.Equal(got[j], again[j], 5);
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void Krum_and_multikrum_match_brute_force(int n, int seed)
    {
        var updates = RandomUpdates(n, seed);
        foreach (var rule in new[] { new Krum(1), new Krum(1, 0), new Krum(2, 3) })
        {
            int neighbours = rule.NeighboursFor(n);
            var scores = updates.Select((u, i) => updates.Where((_, k) => k != i).Select(w => SquaredDistance(u, w))
                .OrderBy(d => d).Take(neighbours).Sum()).ToArray();
            var chosen = Enumerable.Range(0, n).OrderBy(i => scores[i]).ThenBy(i => i).Take(rule.SelectedFor(n)).ToArray();
            var got = Combine(rule, updates);
            for (int j = 0; j < Length; j++) Assert.Equal(chosen.Average(i => (double)updates[i][j]), got[j], 5);
            // Order does not matter, unless the choice is a tie (with one neighbour, the two closest updates score alike).
            var sorted = scores.OrderBy(x => x).ToArray();
            int m = rule.SelectedFor(n);
            if (m == n || sorted[m - 1] != sorted[m])
            {
                var again = Combine(rule, Shuffled(updates, seed));
                for (int j = 0; j < Length; j++) Assert.Equal(got[j], again[j], 5);
            }
        }
    }

    [Theory]
    [InlineData(5, 2, 1)]
    [InlineData(10, 4, 2)]
    [InlineData(11, 5, 3)]
    [InlineData(20, 9, 4)]
    public void Median_stays_in_the_honest_range_with_fewer_than_half_replaced(int n, int f, int seed)
    {
        var (updates, honest) = Attacked(n, f, seed);
        AssertWithinHonestRange(Combine(new CoordinateMedian(), updates), honest);
    }

    [Theory]
    [InlineData(10, 1, 1)]
    [InlineData(10, 2, 2)]
    [InlineData(20, 4, 3)]
    [InlineData(9, 2, 4)]
    public void Trimmed_mean_stays_in_the_honest_range_when_it_trims_at_least_f(int n, int f, int seed)
    {
        var rule = new TrimmedMean(0.25);
        Assert.True(rule.TrimFor(n) >= f);
        var (updates, honest) = Attacked(n, f, seed);
        AssertWithinHonestRange(Combine(rule, updates), honest);
    }

    [Theory]
    [InlineData(10, 1, 1)]
    [InlineData(10, 3, 2)]
    [InlineData(20, 5, 3)]
    public void Krum_picks_an_honest_update_when_n_exceeds_2f_plus_2(int n, int f, int seed)
    {
        var (updates, honest) = Attacked(n, f, seed);
        var got = Combine(new Krum(f), updates);
        Assert.Contains(honest, h => h.SequenceEqual(got));
    }

    [Fact]
    public void Robust_rules_weigh_every_update_one_whatever_it_claims()
    {
        var v = Core.Model.ModelVersion.Initial;
        Assert.Equal(1, new CoordinateMedian().WeightOf(new UpdateReceipt(1_000_000, v, v)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Krum().WeightOf(new UpdateReceipt(0, v, v)));
    }

    [Fact]
    public void Norm_clipping_bounds_each_update_and_leaves_small_ones()
    {
        var clip = new NormClipping(new FedAvg(), 1.0);
        float[] large = [3, 4];
        clip.PrepareUpdate(large);
        Assert.Equal(0.6f, large[0], 6);
        Assert.Equal(0.8f, large[1], 6);
        float[] small = [0.3f, 0.4f];
        clip.PrepareUpdate(small);
        Assert.Equal(new[] { 0.3f, 0.4f }, small);
        Assert.Throws<ArgumentException>(() => new NormClipping(new CoordinateMedian(), 1));
        Assert.Throws<ArgumentException>(() => new NormClipping(clip, 1));
    }

    internal static float[] Combine(AggregationStrategy rule, float[][] updates)
    {
        var destination = new float[Length];
        rule.Combine(new UpdateGroup(updates, Enumerable.Repeat(1.0, updates.Length).ToArray(), Length), destination);
        return destination;
    }

    private static float[][] RandomUpdates(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, Length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
    }

    private static float[][] Shuffled(float[][] updates, int seed)
    {
        var copy = updates.ToArray();
        new Random(seed + 100).Shuffle(copy);
        return copy;
    }

    /// <summary>n inputs, f of them replaced by far-off values (random signs, magnitudes 10 to 2e6).</summary>
    private static (float[][] All, float[][] Honest) Attacked(int n, int f, int seed)
    {
        var all = RandomUpdates(n, seed);
        var random = new Random(seed * 31);
        var byzantine = Enumerable.Range(0, n).OrderBy(_ => random.Next()).Take(f).ToHashSet();
        foreach (int b in byzantine)
            for (int j = 0; j < Length; j++) all[b][j] = (float)((random.Next(2) * 2 - 1) * Math.Pow(10, 1 + random.Next(6)) * (1 + random.NextDouble()));
        return (all, all.Where((_, i) => !byzantine.Contains(i)).ToArray());
    }

    private static void AssertWithinHonestRange(float[] got, float[][] honest)
    {
        for (int j = 0; j < Length; j++)
        {
            float low = honest.Min(h => h[j]), high = honest.Max(h => h[j]);
            Assert.InRange(got[j], low - 1e-6f, high + 1e-6f);
        }
    }

    private static double SquaredDistance(float[] a, float[] b)
    {
        double sum = 0;
        for (int j = 0; j < a.Length; j++) sum += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
        return sum;
    }
}
