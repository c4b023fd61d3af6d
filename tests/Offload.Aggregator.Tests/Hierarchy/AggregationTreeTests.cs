using CsCheck;
using Offload.Aggregator.Accumulation;
using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.Strategies;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Hierarchy;

public class AggregationTreeTests
{
    private static float[] Updates(Random random, int n, int length)
    {
        var all = new float[n * length];
        for (int i = 0; i < all.Length; i++) all[i] = (float)(random.NextDouble() * 2 - 1);
        return all;
    }

    [Fact]
    public void Hierarchical_result_equals_flat_fedavg_for_random_trees_orders_and_participation()
    {
        // Random tree sizes, fan-ins, arrival orders and partial participation (the rest miss the
        // deadline). Per element, the hierarchical and flat models differ by at most 1e-6 of the
        // element's scale (the weighted mean of |update|, what float summation error is relative to).
        Gen.Select(Gen.Int[1, 150], Gen.Int[2, 12], Gen.Int[1, 100], Gen.Int).Sample((expected, bound, participationPercent, seed) =>
        {
            var random = new Random(seed);
            const int length = 37;
            var layout = TensorLayout.Create(new[] { ("w", new[] { length }) });
            var updates = Updates(random, expected, length);
            var weights = new double[expected];
            for (int i = 0; i < expected; i++) weights[i] = random.Next(1, 500);
            var order = Enumerable.Range(0, expected).ToArray();
            random.Shuffle(order);
            int arriving = Math.Max(1, expected * participationPercent / 100);

            var flatModel = new float[length];
            var treeModel = new float[length];
            using (var flat = new UpdateAccumulator(layout))
            using (var tree = new AggregationTree(layout, TreePlanner.Plan(expected, bound), round: 1))
            {
                for (int k = 0; k < arriving; k++)
                {
                    int client = order[k];
                    var u = updates.AsSpan(client * length, length);
                    flat.Add(u, weights[client]);
                    Assert.Equal(FoldOutcome.Folded, tree.Fold(k, $"client-{client}", u, weights[client]));
                }
                var mean = new float[length];
                flat.MeanInto(mean);
                new FedAvg().Aggregate(mean, arriving, flatModel, new FedAvg().InitialState());
                Assert.Equal(arriving, tree.Publish(new FedAvg(), treeModel, new FedAvg().InitialState()).Updates);
            }

            for (int e = 0; e < length; e++)
            {
                double scale = 0, total = 0;
                for (int k = 0; k < arriving; k++)
                {
                    scale += weights[order[k]] * Math.Abs(updates[order[k] * length + e]);
                    total += weights[order[k]];
                }
                scale /= total;
                Assert.True(Math.Abs(treeModel[e] - flatModel[e]) <= 1e-6 * scale + 1e-12,
                    $"element {e}: tree {treeModel[e]} flat {flatModel[e]} scale {scale}");
            }
        }, iter: 300);
    }

    [Fact]
    public void A_duplicate_delivery_counts_once_and_a_late_one_is_reported()
    {
        var layout = TensorLayout.Create(new[] { ("w", new[] { 2 }) });
        using var tree = new AggregationTree(layout, TreePlanner.Plan(2, 2), round: 3);
        Assert.Equal(FoldOutcome.Folded, tree.Fold(0, "a", new float[] { 1, 1 }, 1));
        Assert.Equal(FoldOutcome.Duplicate, tree.Fold(0, "a", new float[] { 1, 1 }, 1));
        Assert.Equal(FoldOutcome.Folded, tree.Fold(1, "b", new float[] { 3, 3 }, 1));
        Assert.True(tree.IsComplete);
        Assert.Equal(FoldOutcome.Late, tree.Fold(2, "c", new float[] { 9, 9 }, 1));
        Assert.Equal(FoldOutcome.Late, tree.Fold(1, "d", new float[] { 9, 9 }, 1));
        var model = new float[2];
        Assert.Equal(2, tree.Publish(new FedAvg(), model, new FedAvg().InitialState()).Updates);
        Assert.Equal(new float[] { 2, 2 }, model);
    }

    [Fact]
    public void A_deadline_with_no_arrivals_leaves_the_model_unchanged()
    {
        var layout = TensorLayout.Create(new[] { ("w", new[] { 2 }) });
        using var tree = new AggregationTree(layout, TreePlanner.Plan(10, 3), round: 1);
        var model = new float[] { 5, 6 };
        Assert.Equal(0, tree.Publish(new FedAvg(), model, new FedAvg().InitialState()).Updates);
        Assert.Equal(new float[] { 5, 6 }, model);
        Assert.Throws<InvalidOperationException>(() => tree.Publish(new FedAvg(), model, new FedAvg().InitialState()).Updates);
    }

    [Fact]
    public void Contiguous_assignment_keeps_few_accumulators_alive()
    {
        var layout = TensorLayout.Create(new[] { ("w", new[] { 4 }) });
        using var tree = new AggregationTree(layout, TreePlanner.Plan(1_000, 10), round: 1);
        for (int k = 0; k < 1_000; k++) tree.Fold(k, $"c{k}", new float[] { 1, 2, 3, 4 }, 1);
        Assert.True(tree.IsComplete);
        // One leaf, one middle and the top at a time (plus one being created), not 111 aggregators.
        Assert.InRange(tree.PeakLiveAggregators, 3, 4);
        var model = new float[4];
        Assert.Equal(1_000, tree.Publish(new FedAvg(), model, new FedAvg().InitialState()).Updates);
        for (int i = 0; i < 4; i++) Assert.Equal(i + 1, model[i], 5);
    }

    [Fact]
    public void Concurrent_folds_from_many_threads_lose_nothing()
    {
        var layout = TensorLayout.Create(new[] { ("w", new[] { 8 }) });
        using var tree = new AggregationTree(layout, TreePlanner.Plan(2_000, 16), round: 1);
        Parallel.For(0, 2_000, k => tree.Fold(k, $"c{k}", new float[] { 1, 1, 1, 1, 1, 1, 1, 1 }, 1 + k % 3));
        Assert.True(tree.IsComplete);
        var model = new float[8];
        Assert.Equal(2_000, tree.Publish(new FedAvg(), model, new FedAvg().InitialState()).Updates);
        Assert.All(model, v => Assert.Equal(1f, v, 5));
    }

    [Fact]
    public void An_invalid_update_is_refused_without_touching_the_sum()
    {
        var layout = TensorLayout.Create(new[] { ("w", new[] { 2 }) });
        var core = new AggregatorCore(layout, new AggregatorAddress(1, 0, 0), fanIn: 2);
        core.FoldUpdate("a", new float[] { 2, 4 }, 1);
        Assert.Throws<ArgumentException>(() => core.FoldUpdate("b", new float[] { float.NaN, 0 }, 1));
        Assert.Throws<ArgumentException>(() => core.FoldUpdate("b", new float[3], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => core.FoldUpdate("b", new float[2], -1));
        Assert.Equal(1, core.Inputs);
        Assert.Null(core.EmitIfComplete());
        using var partial = core.EmitIfOpen()!;
        Assert.Equal(new float[] { 2, 4 }, partial.Sum.ToArray());
        Assert.Equal(1, partial.UpdateCount);
        Assert.Equal(FoldOutcome.Late, core.FoldUpdate("b", new float[2], 1));
    }
}
