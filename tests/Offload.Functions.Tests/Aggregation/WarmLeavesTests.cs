using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Functions.Aggregation;
using Offload.Functions.Names;

namespace Offload.Functions.Tests.Aggregation;

public sealed class WarmLeavesTests
{
    private static readonly TensorLayout Layout = TensorLayout.Create([("w", [4])]);

    private static bool Fold(WarmLeaves warm, long round, int leaf, string id, float[] update, double weight) =>
        warm.Fold(round, leaf, Layout, new Offload.Aggregator.Strategies.FedAvg(), id, IdentityCodec.Instance, IdentityCodec.Instance.Encode(update, Layout), weight);

    [Fact]
    public void Folds_each_update_once_and_hands_the_sum_to_whoever_takes_it()
    {
        using var warm = new WarmLeaves();
        Assert.True(Fold(warm, 1, 0, "a", [1, 2, 3, 4], 2));
        Assert.False(Fold(warm, 1, 0, "a", [9, 9, 9, 9], 2)); // A redelivery counts once.
        Assert.True(Fold(warm, 1, 0, "b", [1, 1, 1, 1], 1));
        Assert.True(Fold(warm, 1, 1, "c", [5, 5, 5, 5], 1));

        using var core = warm.Take(1, 0);
        Assert.NotNull(core);
        Assert.Null(warm.Take(1, 0));
        Assert.True(core.Contains("a") && core.Contains("b") && !core.Contains("c"));
        using var partial = core.Emit();
        Assert.Equal([3f, 5f, 7f, 9f], partial.Sum.ToArray());
        Assert.Equal((2, 3.0), (partial.UpdateCount, partial.TotalWeight));
        Assert.Equal(1, warm.Count);
    }

    [Fact]
    public void Keeps_at_most_its_capacity_and_forgets_rounds_older_than_the_one_before_the_newest()
    {
        using var warm = new WarmLeaves(capacity: 2);
        Assert.True(Fold(warm, 1, 0, "a", [1, 1, 1, 1], 1));
        Assert.True(Fold(warm, 1, 1, "b", [1, 1, 1, 1], 1));
        Assert.False(Fold(warm, 1, 2, "c", [1, 1, 1, 1], 1)); // Full: the emitter will read it from the store.
        Assert.False(Fold(warm, 2, 0, "d", [1, 1, 1, 1], 1)); // Round 1 may still emit: kept, and still full.
        Assert.True(Fold(warm, 3, 0, "e", [1, 1, 1, 1], 1)); // Round 1 is dropped.
        Assert.Equal(1, warm.Count);
        Assert.Null(warm.Take(1, 0));
        Assert.False(Fold(warm, 1, 0, "f", [1, 1, 1, 1], 1)); // Too old to keep.
    }

    [Fact]
    public void An_update_folded_after_its_leaf_was_emitted_is_not_kept()
    {
        using var warm = new WarmLeaves();
        Fold(warm, 1, 0, "a", [1, 1, 1, 1], 1);
        var core = warm.Take(1, 0)!;
        using (core.Emit()) { }
        Assert.False(core.FoldUpdate("b", [1, 1, 1, 1], 1) == Aggregator.Hierarchy.FoldOutcome.Folded);
        core.Dispose();
    }

    [Fact]
    public async Task The_leaf_emits_from_its_warm_sum_even_when_a_folded_payload_is_gone_from_the_store()
    {
        // Proof that updates are folded on arrival: the first payload is deleted behind the functions'
        // back after its event, yet the leaf's partial still holds it.
        await using var app = await FunctionsApp.StartAsync();
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 2, maxFanIn: 4);
        var first = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);
        Assert.Equal("SUCCESS", (await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, first))["status"]!.GetValue<string>());
        Assert.True(await round.Store.DeleteAsync(first.Reference));

        var second = await round.StoreUpdateAsync("c1", [3, 3, 3, 3], 1);
        Assert.Equal("SUCCESS", (await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, second))["status"]!.GetValue<string>());
        await app.Sidecar.DeliverPendingAsync();
        Assert.Equal(RoundScenario.Initial.Select(w => w + 2f), await round.ModelAsync(1));
    }
}
