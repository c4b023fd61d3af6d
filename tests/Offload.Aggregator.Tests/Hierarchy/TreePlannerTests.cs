using CsCheck;
using Offload.Aggregator.Hierarchy;

namespace Offload.Aggregator.Tests.Hierarchy;

public class TreePlannerTests
{
    [Theory]
    [InlineData(10_000, 100, new[] { 100, 1 }, new[] { 100, 100 })]
    [InlineData(1_000, 100, new[] { 32, 1 }, new[] { 32, 32 })]
    [InlineData(100, 100, new[] { 1, 1 }, new[] { 100, 1 })]
    [InlineData(50, 100, new[] { 1, 1 }, new[] { 50, 1 })]
    [InlineData(1, 10, new[] { 1, 1 }, new[] { 1, 1 })]
    [InlineData(1_000, 10, new[] { 100, 10, 1 }, new[] { 10, 10, 10 })]
    public void Plans_match_hand_computed_trees(int updates, int bound, int[] counts, int[] fanIns)
    {
        var plan = TreePlanner.Plan(updates, bound);
        Assert.Equal(counts, plan.AggregatorsPerLevel);
        Assert.Equal(fanIns, plan.FanInPerLevel);
    }

    [Fact]
    public void Every_input_has_exactly_one_slot_and_fan_in_stays_within_the_bound()
    {
        Gen.Select(Gen.Int[1, 20_000], Gen.Int[2, 200]).Sample((updates, bound) =>
        {
            var plan = TreePlanner.Plan(updates, bound);
            Assert.Equal(1, plan.AggregatorsPerLevel[^1]);
            int below = updates;
            for (int level = 0; level < plan.Levels; level++)
            {
                int sum = 0;
                for (int i = 0; i < plan.AggregatorsPerLevel[level]; i++)
                {
                    int expected = plan.ExpectedInputs(level, i);
                    Assert.InRange(expected, 1, bound);
                    sum += expected;
                }
                Assert.Equal(below, sum);
                below = plan.AggregatorsPerLevel[level];
            }
            Assert.Equal(plan.AggregatorsPerLevel[0] - 1, plan.LeafFor(updates - 1));
            Assert.Equal(-1, plan.LeafFor(updates));
        }, iter: 2000);
    }

    [Fact]
    public void Invalid_arguments_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TreePlanner.Plan(0, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => TreePlanner.Plan(10, 1));
    }
}
