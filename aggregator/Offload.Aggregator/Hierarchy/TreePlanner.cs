namespace Offload.Aggregator.Hierarchy;

/// <summary>
/// Sizes a round's aggregation tree for the expected number of updates and a fan-in bound.
/// Rule: use the fewest levels L whose bound allows it (maxFanIn^L >= updates; every level is one
/// more hop and one more emit), then spread the inputs evenly, fan-in ceil(updates^(1/L)) rather
/// than full leaves and a thin top, because an input's latency grows with the sum of the fan-ins
/// along its path (1,000 updates under a bound of 100: 32 leaves of 32 and a top of 32, a path of 64
/// folds, instead of 10 leaves of 100 and a top of 10, a path of 110). A top always exists, so with
/// few updates the tree is one leaf under one top. Called again every round.
/// </summary>
public static class TreePlanner
{
    /// <summary>The flat round: one leaf taking every update, under the top (what a fan-in bound of 0 means).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Updates below 1.</exception>
    public static TreePlan Flat(int expectedUpdates) => Plan(expectedUpdates, Math.Max(2, expectedUpdates));

    /// <summary>Plans a tree.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Updates below 1 or a fan-in bound below 2.</exception>
    public static TreePlan Plan(int expectedUpdates, int maxFanIn)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(expectedUpdates, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFanIn, 2);
        int levels = 1;
        for (long reach = maxFanIn; reach < expectedUpdates; reach *= maxFanIn) levels++;
        int fanIn = Math.Min(maxFanIn, (int)Math.Ceiling(Math.Pow(expectedUpdates, 1.0 / levels) - 1e-9));
        // Round-off can leave fanIn^levels just short: grow until it covers.
        while (Math.Pow(fanIn, levels) < expectedUpdates) fanIn++;

        var counts = new List<int>();
        var fanIns = new List<int>();
        int below = expectedUpdates;
        for (int level = 0; level < levels; level++)
        {
            int count = (below + fanIn - 1) / fanIn;
            // Even spread: as many aggregators as needed, each taking an equal share.
            int share = (below + count - 1) / count;
            count = (below + share - 1) / share; // No aggregator is left without inputs.
            counts.Add(count);
            fanIns.Add(share);
            below = count;
        }
        if (counts[^1] != 1)
        {
            counts.Add(1);
            fanIns.Add(counts[^2]);
        }
        else if (levels == 1)
        {
            // One leaf covers everything; the top above it takes that leaf's partial.
            counts.Add(1);
            fanIns.Add(1);
        }
        return new TreePlan(expectedUpdates, maxFanIn, counts.ToArray(), fanIns.ToArray());
    }
}
