namespace Offload.Aggregator.Placement;

/// <summary>
/// Places a round's aggregators on nodes so that as few bytes as possible cross nodes, within each
/// node's capacity (<see cref="PlacementNode.Capacity"/>). LIFL (MLSys 2024) names best-fit placement;
/// its public code runs round-robin pairing only (<see cref="RoundRobin"/>, the baseline).
/// </summary>
/// <remarks>
/// <para>What a hop costs decides the shape. An update hop moves an update (small when compressed);
/// every other hop moves a partial, a dense sum of the model's size. So each node folds its own
/// updates into a subtree of its own, and only the subtree's root crosses: one partial per node.
/// A node whose updates together are smaller than one partial sends them to the hub (the node where
/// most updates land) instead, since that costs less than its root would.</para>
/// <para>Leaves: every other update goes to a leaf on the node where it landed, up to that node's room.
/// Updates beyond it are packed best-fit: into the node whose spare room fits them most tightly, so
/// large spare rooms stay whole for later overflow. Above the leaves, each node folds its roots in
/// groups of the fan-in until it has one; then the nodes' roots are folded in groups of the fan-in,
/// each group on the node of its largest subtree, and the top goes to the hub. A parent that finds no
/// room on its node goes best-fit elsewhere. A parent's level is one above its highest child's: a
/// node with few updates has a shallow subtree.</para>
/// <para>Every step is a sort or a scan over nodes and aggregators, so 10,000 updates on 64 nodes plan
/// in under a millisecond (docs/benchmarks.md, "Placement").</para>
/// </remarks>
public static class PlacementPlanner
{
    /// <summary>Plans the round's tree on <paramref name="nodes"/>.</summary>
    /// <exception cref="ArgumentException">The nodes or the demand are invalid (see <see cref="PlacementDemand.Validate"/>).</exception>
    public static AggregatorPlacement Plan(IReadOnlyList<PlacementNode> nodes, PlacementDemand demand)
    {
        ArgumentNullException.ThrowIfNull(demand);
        demand.Validate(nodes);
        int fanIn = demand.MaxFanIn;
        int count = nodes.Count;
        var room = new int[count];
        for (int n = 0; n < count; n++) room[n] = nodes[n].Capacity(demand.AggregatorsPerCore, demand.AggregatorBytes);
        int hub = 0;
        for (int n = 1; n < count; n++)
            if (demand.ArrivalsPerNode[n] > demand.ArrivalsPerNode[hub]) hub = n;

        // Which node folds whose updates: its own, or the hub's where shipping them is cheaper than a root.
        var sources = new List<(int Source, int Updates)>[count];
        for (int n = 0; n < count; n++)
        {
            int arrivals = demand.ArrivalsPerNode[n];
            if (arrivals == 0) continue;
            int folder = n != hub && arrivals * demand.UpdateBytes < demand.PartialBytes ? hub : n;
            (sources[folder] ??= []).Add((n, arrivals));
        }
        // The hub folds its own first; shipped updates fill its last leaves.
        sources[hub]?.Sort((a, b) => (a.Source == hub ? 0 : 1).CompareTo(b.Source == hub ? 0 : 1));

        var aggregators = new List<PlacedAggregator>();
        var routes = new List<UpdateRoute>();
        var roots = new List<int>[count];
        var overflow = new List<(int Folder, List<(int Source, int Updates)> Left)>();
        for (int n = 0; n < count; n++)
        {
            if (sources[n] is not { } queue) continue;
            var left = new List<(int Source, int Updates)>(queue);
            // Room is kept for the parents of these leaves (and the top, on the hub): a leaf whose parent
            // found no room here would send its partial across.
            for (int leaves = LeavesFitting(room[n] - (n == hub ? 1 : 0), fanIn); leaves > 0 && left.Count > 0; leaves--)
            {
                AddLeaf(aggregators, routes, roots, left, n, fanIn);
                room[n]--;
            }
            if (left.Count > 0) overflow.Add((n, left));
        }
        // The rest best-fit, the largest first, so the tightest spare rooms are used before the large ones.
        overflow.Sort((a, b) => Total(b.Left).CompareTo(Total(a.Left)));
        foreach (var (folder, left) in overflow)
        {
            while (left.Count > 0)
            {
                int leaves = (Total(left) + fanIn - 1) / fanIn;
                int host = BestFit(room, SubtreeSlots(leaves, fanIn), folder);
                int placed = Math.Max(1, Math.Min(leaves, LeavesFitting(room[host], fanIn)));
                for (int i = 0; i < placed && left.Count > 0; i++)
                {
                    AddLeaf(aggregators, routes, roots, left, host, fanIn);
                    room[host]--;
                }
            }
        }

        // Each node folds its roots until one is left; a parent with no room at home joins the roots of the node it went to.
        for (bool folded = true; folded;)
        {
            folded = false;
            for (int n = 0; n < count; n++)
            {
                if (roots[n] is not { Count: > 1 } own) continue;
                roots[n] = [];
                for (int i = 0; i < own.Count; i += fanIn)
                {
                    var group = own.GetRange(i, Math.Min(fanIn, own.Count - i));
                    if (group.Count == 1)
                    {
                        roots[n].Add(group[0]);
                        continue;
                    }
                    int parent = AddParent(aggregators, group, n, room);
                    (roots[aggregators[parent].Node] ??= []).Add(parent);
                }
                folded = true;
            }
        }

        // Then across nodes: the nodes' roots in groups of the fan-in, largest subtrees first, each group
        // on the node of its largest member; the last group's parent is the top, on the hub.
        var across = new List<int>();
        for (int n = 0; n < count; n++)
            if (roots[n] is { Count: 1 } one) across.Add(one[0]);
        while (across.Count > 1 || aggregators[across[0]].Level == 0)
        {
            if (across.Count <= fanIn)
            {
                int top = across.Count == 1 ? aggregators[across[0]].Node : hub;
                across = [AddParent(aggregators, across, top, room)];
                break;
            }
            var weight = SubtreeUpdates(aggregators);
            across.Sort((a, b) => weight(b).CompareTo(weight(a)));
            var next = new List<int>();
            for (int i = 0; i < across.Count; i += fanIn)
            {
                var group = across.GetRange(i, Math.Min(fanIn, across.Count - i));
                next.Add(group.Count == 1 ? group[0] : AddParent(aggregators, group, aggregators[group[0]].Node, room));
            }
            across = next;
        }
        return new AggregatorPlacement(nodes, demand, aggregators, routes);
    }

    /// <summary>
    /// LIFL's round-robin pairing, the baseline: the tree <see cref="Hierarchy.TreePlanner"/> sizes,
    /// its aggregators dealt to the nodes in turn, level by level, and updates given to leaves in
    /// arrival order wherever they landed. <paramref name="arrivalSeed"/> fixes that order (the
    /// nodes' updates interleaved at random, as concurrent devices arrive).
    /// </summary>
    /// <exception cref="ArgumentException">The nodes or the demand are invalid.</exception>
    public static AggregatorPlacement RoundRobin(IReadOnlyList<PlacementNode> nodes, PlacementDemand demand, int arrivalSeed)
    {
        ArgumentNullException.ThrowIfNull(demand);
        demand.Validate(nodes);
        var plan = Hierarchy.TreePlanner.Plan((int)demand.TotalUpdates, demand.MaxFanIn);
        var aggregators = new List<PlacedAggregator>();
        var first = new int[plan.Levels];
        int dealt = 0;
        for (int level = 0; level < plan.Levels; level++)
        {
            first[level] = aggregators.Count;
            for (int i = 0; i < plan.AggregatorsPerLevel[level]; i++)
            {
                int parent = level == plan.Levels - 1 ? -1 : 0; // Set below, once the next level's ids exist.
                aggregators.Add(new PlacedAggregator(aggregators.Count, level, dealt++ % nodes.Count, parent, plan.ExpectedInputs(level, i)));
            }
        }
        for (int level = 0; level < plan.Levels - 1; level++)
            for (int i = 0; i < plan.AggregatorsPerLevel[level]; i++)
            {
                int id = first[level] + i;
                aggregators[id] = aggregators[id] with { Parent = first[level + 1] + plan.ParentOf(level, i) };
            }

        // Arrival order: every update's landing node, shuffled; update k goes to leaf k / fan-in.
        var order = new int[(int)demand.TotalUpdates];
        int at = 0;
        for (int n = 0; n < nodes.Count; n++)
            for (int i = 0; i < demand.ArrivalsPerNode[n]; i++) order[at++] = n;
        new Random(arrivalSeed).Shuffle(order);
        var counts = new Dictionary<(int Source, int Leaf), int>();
        for (int k = 0; k < order.Length; k++)
        {
            var key = (order[k], plan.LeafFor(k));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        var routes = new List<UpdateRoute>(counts.Count);
        foreach (var ((source, leaf), count) in counts) routes.Add(new UpdateRoute(source, leaf, count));
        routes.Sort((a, b) => a.Leaf != b.Leaf ? a.Leaf.CompareTo(b.Leaf) : a.SourceNode.CompareTo(b.SourceNode));
        return new AggregatorPlacement(nodes, demand, aggregators, routes);
    }

    /// <summary>Aggregators a subtree over <paramref name="leaves"/> leaves takes: the leaves and their parents, level by level, to one root.</summary>
    private static int SubtreeSlots(int leaves, int fanIn)
    {
        int slots = leaves;
        for (int level = leaves; level > 1;)
        {
            level = (level + fanIn - 1) / fanIn;
            slots += level;
        }
        return slots;
    }

    /// <summary>The most leaves whose subtree fits in <paramref name="room"/> slots (at least one where there is any room).</summary>
    private static int LeavesFitting(int room, int fanIn)
    {
        if (room < 1) return 0;
        // The subtree grows by a little more than one slot per leaf: start from the estimate and step down.
        int leaves = Math.Max(1, (int)((long)room * (fanIn - 1) / fanIn));
        while (leaves > 1 && SubtreeSlots(leaves, fanIn) > room) leaves--;
        while (SubtreeSlots(leaves + 1, fanIn) <= room) leaves++;
        return leaves;
    }

    private static int Total(List<(int Source, int Updates)> left)
    {
        int total = 0;
        foreach (var (_, updates) in left) total += updates;
        return total;
    }

    /// <summary>A leaf on <paramref name="host"/> taking up to a fan-in of the updates <paramref name="left"/>, front first.</summary>
    private static void AddLeaf(List<PlacedAggregator> aggregators, List<UpdateRoute> routes, List<int>[] roots, List<(int Source, int Updates)> left, int host, int fanIn)
    {
        int id = aggregators.Count;
        int inputs = 0;
        while (inputs < fanIn && left.Count > 0)
        {
            var (source, updates) = left[0];
            int take = Math.Min(fanIn - inputs, updates);
            routes.Add(new UpdateRoute(source, id, take));
            inputs += take;
            if (take == updates) left.RemoveAt(0);
            else left[0] = (source, updates - take);
        }
        aggregators.Add(new PlacedAggregator(id, 0, host, -1, inputs));
        (roots[host] ??= []).Add(id);
    }

    /// <summary>A parent of <paramref name="children"/>, on <paramref name="preferred"/> if it has room, else best-fit; one level above the highest child.</summary>
    private static int AddParent(List<PlacedAggregator> aggregators, List<int> children, int preferred, int[] room)
    {
        int host = room[preferred] > 0 ? preferred : BestFit(room, 1, preferred);
        room[host]--;
        int id = aggregators.Count;
        int level = 0;
        foreach (int child in children) level = Math.Max(level, aggregators[child].Level + 1);
        aggregators.Add(new PlacedAggregator(id, level, host, -1, children.Count));
        foreach (int child in children) aggregators[child] = aggregators[child] with { Parent = id };
        return id;
    }

    /// <summary>Updates under each aggregator, for ordering the nodes' roots by the size of their subtrees.</summary>
    private static Func<int, long> SubtreeUpdates(List<PlacedAggregator> aggregators)
    {
        var under = new long[aggregators.Count];
        foreach (var a in aggregators)
        {
            if (a.Level == 0) under[a.Id] += a.Inputs;
            if (a.Parent >= 0) under[a.Parent] += under[a.Id];
        }
        return id => id < under.Length ? under[id] : 0;
    }

    /// <summary>
    /// The node whose spare room fits <paramref name="slots"/> most tightly; if none fits them all, the
    /// one with most room; if no node has room at all, <paramref name="preferred"/> itself: with the
    /// whole cluster full, locality is what is left to keep (the plan then reports
    /// <see cref="AggregatorPlacement.Overcommitted"/>). Ties go to <paramref name="preferred"/>, then the lowest index.
    /// </summary>
    private static int BestFit(int[] room, int slots, int preferred)
    {
        int best = -1;
        for (int n = 0; n < room.Length; n++)
        {
            if (room[n] < slots) continue;
            if (best < 0 || room[n] < room[best] || (room[n] == room[best] && n == preferred)) best = n;
        }
        if (best >= 0) return best;
        best = preferred;
        for (int n = 0; n < room.Length; n++)
            if (room[n] > Math.Max(0, room[best])) best = n;
        return best;
    }
}
