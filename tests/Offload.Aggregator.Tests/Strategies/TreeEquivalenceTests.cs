using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Strategies;

/// <summary>
/// Sum-decomposable strategies give the same model through any tree as flat, over several rounds
/// with their state carried; robust strategies combine within each leaf, then average the leaves.
/// </summary>
public class TreeEquivalenceTests
{
    private static readonly TensorLayout Layout = TensorLayout.Create([("w", [6, 5]), ("b", [7])]);

    public static TheoryData<string> SumDecomposable => new()
    {
        "fedavg", "fedavg:eta=0.7", "fedavgm", "fedprox", "fedadagrad", "fedadam", "fedyogi", "fedavg:clip=0.8", "fedadam:clip=0.5",
    };

    [Theory]
    [MemberData(nameof(SumDecomposable))]
    public void Any_tree_gives_the_flat_model(string specification)
    {
        const int updates = 23;
        var strategy = StrategyCatalog.Parse(specification);
        var flat = Train(strategy, TreePlanner.Flat(updates), updates);
        foreach (int fanIn in new[] { 2, 3, 5, 8 })
        {
            var tree = Train(strategy, TreePlanner.Plan(updates, fanIn), updates);
            for (int i = 0; i < flat.Length; i++)
                Assert.True(Math.Abs(flat[i] - tree[i]) <= 1e-6 * Math.Max(Math.Abs(flat[i]), Math.Abs(tree[i])) + 1e-7,
                    $"{specification}, fan-in {fanIn}: element {i} is {tree[i]} through the tree and {flat[i]} flat.");
        }
    }

    [Fact]
    public void Norm_clipping_changes_the_model_only_through_large_updates()
    {
        var plain = Train(new FedAvg(), TreePlanner.Flat(10), 10);
        var loose = Train(new NormClipping(new FedAvg(), 1e6), TreePlanner.Flat(10), 10);
        var tight = Train(new NormClipping(new FedAvg(), 0.1), TreePlanner.Flat(10), 10);
        for (int i = 0; i < plain.Length; i++) Assert.Equal(plain[i], loose[i], 5);
        Assert.NotEqual(plain, tight);
    }

    [Fact]
    public void A_robust_tree_takes_the_median_within_each_leaf_then_the_mean_of_leaves()
    {
        const int updates = 9;
        var plan = TreePlanner.Plan(updates, 3); // Three leaves of three.
        var payloads = Updates(round: 1, updates);
        var model = new float[Layout.TotalLength];
        var strategy = new CoordinateMedian();
        using (var tree = new AggregationTree(Layout, plan, 1, strategy))
        {
            for (int k = 0; k < updates; k++) tree.FoldEncoded(k, $"u{k}", IdentityCodec.Instance, IdentityCodec.Instance.Encode(payloads[k], Layout), 1);
            Assert.Equal(updates, tree.Publish(strategy, model, strategy.InitialState()).Updates);
        }
        for (int j = 0; j < model.Length; j++)
        {
            double expected = 0;
            for (int leaf = 0; leaf < 3; leaf++)
                expected += payloads.Skip(leaf * 3).Take(3).Select(u => u[j]).OrderBy(v => v).ElementAt(1) / 3.0;
            Assert.Equal(expected, model[j], 5);
        }
    }

    /// <summary>Three rounds of <paramref name="updates"/> encoded updates folded through <paramref name="plan"/>, the state carried.</summary>
    private static float[] Train(AggregationStrategy strategy, TreePlan plan, int updates)
    {
        var model = Enumerable.Range(0, Layout.TotalLength).Select(i => (float)Math.Sin(i)).ToArray();
        var state = strategy.InitialState();
        for (int round = 1; round <= 3; round++)
        {
            var payloads = Updates(round, updates);
            using var tree = new AggregationTree(Layout, plan, round, strategy);
            var v = new ModelVersion(round - 1);
            for (int k = 0; k < updates; k++)
                tree.FoldEncoded(k, $"u{k}", IdentityCodec.Instance, IdentityCodec.Instance.Encode(payloads[k], Layout),
                    strategy.WeightOf(new UpdateReceipt(10 + k * 7, v, v)));
            tree.Publish(strategy, model, state);
        }
        return model;
    }

    private static float[][] Updates(int round, int count)
    {
        var random = new Random(round * 1000 + count);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, Layout.TotalLength)
            .Select(_ => (float)((random.NextDouble() - 0.5) * 0.4)).ToArray()).ToArray();
    }
}
