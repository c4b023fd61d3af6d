using CsCheck;
using Offload.Core.Codec;

namespace Offload.Core.Tests.Codec;

public class OptimalKMeans1DTests
{
    /// <summary>Least squared error over every assignment of the values to k labels (k^m of them).</summary>
    private static double BruteForce(float[] values, int k)
    {
        int m = values.Length;
        var labels = new int[m];
        double best = double.PositiveInfinity;
        long total = (long)Math.Pow(k, m);
        var sum = new double[k];
        var count = new int[k];
        for (long code = 0; code < total; code++)
        {
            long c = code;
            for (int i = 0; i < m; i++) { labels[i] = (int)(c % k); c /= k; }
            Array.Clear(sum);
            Array.Clear(count);
            for (int i = 0; i < m; i++) { sum[labels[i]] += values[i]; count[labels[i]]++; }
            double error = 0;
            for (int i = 0; i < m; i++)
            {
                double d = values[i] - sum[labels[i]] / count[labels[i]];
                error += d * d;
            }
            best = Math.Min(best, error);
        }
        return best;
    }

    private static readonly Gen<(float[] Values, int K)> Tiny =
        Gen.Select(Gen.Int[1, 7], Gen.Int[1, 4], Gen.Int, (m, k, seed) =>
        {
            var random = new Random(seed);
            var values = new float[m];
            for (int i = 0; i < m; i++) values[i] = random.Next(3) == 0 ? random.Next(3) : (float)(random.NextDouble() * 4 - 2);
            Array.Sort(values);
            return (values, k);
        });

    [Fact]
    public void Cluster_TinyInputs_AchievesTheBruteForceOptimum()
    {
        SeededSample.Run(Tiny, 17, 400, c =>
        {
            var centroids = new float[c.K];
            var upper = new float[c.K];
            int used = OptimalKMeans1D.Cluster(c.Values, c.K, centroids, upper, out double error);
            Assert.Equal(Math.Min(c.K, c.Values.Distinct().Count()), used);
            double optimum = BruteForce(c.Values, c.K);
            Assert.True(Math.Abs(error - optimum) <= 1e-9 * (1 + optimum), $"DP error {error}, optimum {optimum}");

            // The reported error is the error of the returned clustering (each value to its range).
            double actual = 0;
            foreach (float v in c.Values)
            {
                int j = 0;
                while (v > upper[j]) j++;
                actual += Math.Pow(v - (double)centroids[j], 2);
            }
            Assert.True(Math.Abs(actual - error) <= 1e-5 * (1 + error), $"clustering error {actual}, reported {error}");
            for (int j = 1; j < used; j++) Assert.True(centroids[j] > centroids[j - 1] && upper[j] > upper[j - 1]);
        });
    }

    [Fact]
    public void Cluster_MoreDistinctValuesThanGroups_StaysNearOptimalAndOrdered()
    {
        var random = new Random(5);
        var values = new float[50_000];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        Array.Sort(values);
        var centroids = new float[4];
        var upper = new float[4];
        int used = OptimalKMeans1D.Cluster(values, 4, centroids, upper, out double error);
        Assert.Equal(4, used);
        // Uniform on [-1, 1] in four equal cells: centroids at ±0.25, ±0.75; error m·(0.5²/12).
        float[] expected = [-0.75f, -0.25f, 0.25f, 0.75f];
        for (int j = 0; j < 4; j++) Assert.Equal(expected[j], centroids[j], 0.02f);
        Assert.InRange(error, 0.98 * values.Length * 0.25 / 12, 1.05 * values.Length * 0.25 / 12);
    }

    [Fact]
    public void Cluster_OneDistinctValue_UsesOneCentroid()
    {
        var centroids = new float[8];
        var upper = new float[8];
        Assert.Equal(1, OptimalKMeans1D.Cluster([0.5f, 0.5f, 0.5f], 8, centroids, upper, out double error));
        Assert.Equal(0.5f, centroids[0]);
        Assert.Equal(0, error);
    }
}
