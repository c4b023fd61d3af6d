using CsCheck;
using Offload.Core.Data;

namespace Offload.Core.Tests.Data;

public sealed class PartitionSchemeTests
{
    private static readonly PartitionScheme[] Schemes =
    [
        PartitionScheme.Iid,
        PartitionScheme.Dirichlet(0.05),
        PartitionScheme.Dirichlet(1),
        PartitionScheme.Dirichlet(100),
        PartitionScheme.Shards(1),
        PartitionScheme.Shards(2),
        PartitionScheme.Shards(3),
    ];

    /// <summary>A scheme, labels (1..400 samples over 1..10 classes), a client count the scheme can serve, and a seed.</summary>
    private static readonly Gen<(PartitionScheme Scheme, byte[] Labels, int Classes, int Clients, int Seed)> Cases =
        Gen.Select(Gen.Int[0, Schemes.Length - 1], Gen.Int[1, 400], Gen.Int[1, 10], Gen.Int[1, 400], Gen.Int, Gen.Int,
            (scheme, n, classes, clients, labelSeed, seed) =>
            {
                PartitionScheme s = Schemes[scheme];
                int most = s is ShardScheme shards ? Math.Max(1, n / shards.ShardsPerClient) : n;
                if (s is ShardScheme tooMany && tooMany.ShardsPerClient > n) s = PartitionScheme.Iid;
                return (s, RandomLabels(n, classes, labelSeed), classes, 1 + (clients - 1) % most, seed);
            });

    private static byte[] RandomLabels(int n, int classes, int seed)
    {
        var random = new Random(seed);
        var labels = new byte[n];
        for (int i = 0; i < n; i++) labels[i] = (byte)random.Next(classes);
        return labels;
    }

    /// <summary>perClass samples of each of 10 classes, interleaved 0,1,...,9,0,1,... as a shuffled file would be.</summary>
    private static byte[] BalancedLabels(int perClass)
    {
        var labels = new byte[perClass * 10];
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)(i % 10);
        return labels;
    }

    private static void AssertExactCover(IReadOnlyList<Partition> partitions, int sampleCount, int clientCount)
    {
        Assert.Equal(clientCount, partitions.Count);
        var seen = new bool[sampleCount];
        for (int k = 0; k < partitions.Count; k++)
        {
            Assert.Equal(k, partitions[k].ClientId);
            Assert.NotEmpty(partitions[k].Indices);
            foreach (int index in partitions[k].Indices)
            {
                Assert.False(seen[index], $"Sample {index} assigned twice.");
                seen[index] = true;
            }
        }
        Assert.DoesNotContain(false, seen);
    }

    [Fact]
    public void Every_scheme_assigns_every_sample_exactly_once_and_no_client_is_empty()
    {
        Cases.Sample(c =>
        {
            IReadOnlyList<Partition> partitions = c.Scheme.Split(c.Labels, c.Classes, c.Clients, c.Seed);
            AssertExactCover(partitions, c.Labels.Length, c.Clients);
            foreach (Partition p in partitions)
                for (int i = 1; i < p.Indices.Length; i++) Assert.True(p.Indices[i - 1] < p.Indices[i]);
        }, iter: 300);
    }

    [Fact]
    public void Every_scheme_is_deterministic_by_seed()
    {
        Cases.Sample(c =>
        {
            IReadOnlyList<Partition> first = c.Scheme.Split(c.Labels, c.Classes, c.Clients, c.Seed);
            IReadOnlyList<Partition> second = c.Scheme.Split(c.Labels, c.Classes, c.Clients, c.Seed);
            for (int k = 0; k < first.Count; k++) Assert.Equal(first[k].Indices, second[k].Indices);
        }, iter: 200);
    }

    [Theory]
    [MemberData(nameof(AllSchemes))]
    public void Different_seeds_give_different_splits(PartitionScheme scheme)
    {
        byte[] labels = BalancedLabels(100);
        IReadOnlyList<Partition> a = scheme.Split(labels, 10, 20, seed: 1);
        IReadOnlyList<Partition> b = scheme.Split(labels, 10, 20, seed: 2);
        bool differ = false;
        for (int k = 0; k < a.Count && !differ; k++) differ = !a[k].Indices.AsSpan().SequenceEqual(b[k].Indices);
        Assert.True(differ, $"{scheme} gave the same split for seeds 1 and 2.");
    }

    public static TheoryData<PartitionScheme> AllSchemes() => new(Schemes);

    [Fact]
    public void Iid_golden_split_is_stable()
    {
        // Pins System.Random's seeded sequence: a run logged with its seed can be reproduced.
        IReadOnlyList<Partition> split = PartitionScheme.Iid.Split(new byte[10], 1, 3, seed: 42);
        Assert.Equal([0, 4, 9], split[0].Indices);
        Assert.Equal([2, 5, 7], split[1].Indices);
        Assert.Equal([1, 3, 6, 8], split[2].Indices);
    }

    [Theory]
    [InlineData(1000, 7)]
    [InlineData(60, 60)]
    [InlineData(101, 10)]
    public void Iid_client_sizes_differ_by_at_most_one(int n, int clients)
    {
        IReadOnlyList<Partition> split = PartitionScheme.Iid.Split(new byte[n], 1, clients, seed: 3);
        int min = int.MaxValue, max = 0;
        foreach (Partition p in split) { min = Math.Min(min, p.Count); max = Math.Max(max, p.Count); }
        Assert.InRange(max - min, 0, 1);
    }

    [Fact]
    public void Dirichlet_skew_grows_as_alpha_shrinks()
    {
        byte[] labels = BalancedLabels(400);
        double Skew(double alpha) =>
            PartitionStatistics.MeanDominantLabelFraction(
                PartitionStatistics.LabelHistograms(PartitionScheme.Dirichlet(alpha).Split(labels, 10, 20, seed: 7), labels, 10));

        double skewed = Skew(0.1), mild = Skew(1), nearIid = Skew(100);

        // Seen here over seeds 1, 7, 13, 99: 0.55-0.67 at alpha 0.1, 0.28-0.30 at 1, 0.12 at 100 (IID: 0.10).
        Assert.True(skewed > 0.45, $"alpha=0.1: mean dominant-label fraction {skewed:F3}");
        Assert.True(nearIid < 0.2, $"alpha=100: mean dominant-label fraction {nearIid:F3}");
        Assert.True(skewed > mild && mild > nearIid, $"0.1: {skewed:F3}, 1: {mild:F3}, 100: {nearIid:F3}");
    }

    [Theory]
    [InlineData(0.001, 50, 60)]
    [InlineData(0.01, 100, 100)]
    [InlineData(1e-300, 10, 30)]
    [InlineData(0.001, 10_000, 20_000)] // most clients start empty: the repair must stay O(K log K)
    public void Dirichlet_with_tiny_alpha_still_gives_every_client_a_sample(double alpha, int clients, int n)
    {
        byte[] labels = RandomLabels(n, 10, seed: 5);
        IReadOnlyList<Partition> split = PartitionScheme.Dirichlet(alpha).Split(labels, 10, clients, seed: 11);
        AssertExactCover(split, n, clients);
    }

    [Theory]
    [InlineData(50)] // 100 shards of 40 within classes of 400: no shard straddles two labels
    [InlineData(100)]
    public void Shards_give_each_client_at_most_two_labels_when_shards_align_with_classes(int clients)
    {
        byte[] labels = BalancedLabels(400);
        int[][] histograms = PartitionStatistics.LabelHistograms(PartitionScheme.Shards().Split(labels, 10, clients, seed: 9), labels, 10);
        foreach (int[] h in histograms) Assert.InRange(DistinctLabels(h), 1, 2);
    }

    [Fact]
    public void Shards_give_each_client_at_most_two_labels_per_shard_when_shards_straddle_classes()
    {
        // 60 shards of 66 or 67 over classes of 400: a shard may cross one class boundary.
        byte[] labels = BalancedLabels(400);
        int[][] histograms = PartitionStatistics.LabelHistograms(PartitionScheme.Shards().Split(labels, 10, 30, seed: 9), labels, 10);
        int atMostTwo = 0;
        foreach (int[] h in histograms)
        {
            Assert.InRange(DistinctLabels(h), 1, 4);
            if (DistinctLabels(h) <= 2) atMostTwo++;
        }
        Assert.True(atMostTwo >= histograms.Length / 2, $"Only {atMostTwo} of {histograms.Length} clients hold at most two labels.");
    }

    [Fact]
    public void Splits_an_image_dataset_by_its_labels()
    {
        var data = new ImageDataset(new byte[6 * 4], [0, 1, 0, 1, 0, 1], 2, 2, 2);
        IReadOnlyList<Partition> split = PartitionScheme.Shards(1).Split(data, 2, seed: 0);
        int[][] histograms = PartitionStatistics.LabelHistograms(split, data);
        Assert.Equal([[3, 0], [0, 3]], histograms.OrderByDescending(h => h[0]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(11)]
    public void Client_count_must_be_between_one_and_the_sample_count(int clients)
    {
        foreach (PartitionScheme scheme in new[] { PartitionScheme.Iid, PartitionScheme.Dirichlet(1) })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => scheme.Split(new byte[10], 1, clients, seed: 0));
            Assert.Equal("clientCount", e.ParamName);
            Assert.Contains("between 1 and the sample count 10", e.Message);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-0.5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Dirichlet_alpha_must_be_positive_and_finite(double alpha)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PartitionScheme.Dirichlet(alpha));
        Assert.Equal("alpha", e.ParamName);
    }

    [Fact]
    public void Shards_per_client_must_be_positive()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PartitionScheme.Shards(0));
        Assert.Equal("shardsPerClient", e.ParamName);
    }

    [Fact]
    public void Shards_need_a_sample_per_shard()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PartitionScheme.Shards(2).Split(new byte[10], 1, 6, seed: 0));
        Assert.Equal("clientCount", e.ParamName);
        Assert.Contains("between 1 and 5", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(257)]
    public void Class_count_is_validated(int classes)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PartitionScheme.Iid.Split(new byte[10], classes, 2, seed: 0));
        Assert.Equal("classCount", e.ParamName);
    }

    [Fact]
    public void Labels_must_be_below_the_class_count()
    {
        var e = Assert.Throws<ArgumentException>(() => PartitionScheme.Iid.Split([0, 1, 5], 3, 2, seed: 0));
        Assert.Equal("labels", e.ParamName);
        Assert.Contains("Label 5 at index 2", e.Message);
    }

    [Fact]
    public void Schemes_describe_themselves()
    {
        Assert.Equal("iid", PartitionScheme.Iid.ToString());
        Assert.Equal("dirichlet(alpha=0.5)", PartitionScheme.Dirichlet(0.5).ToString());
        Assert.Equal("shards(2 per client)", PartitionScheme.Shards().ToString());
    }

    private static int DistinctLabels(int[] histogram)
    {
        int distinct = 0;
        foreach (int count in histogram) if (count > 0) distinct++;
        return distinct;
    }
}
