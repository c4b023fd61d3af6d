namespace Offload.Aggregator.Placement;

/// <summary>
/// A round's aggregation tree placed on nodes: every aggregator with its node and parent, and where
/// the updates that land on each node are folded. Counts the bytes each hop moves, and which of them
/// cross nodes (an update to its leaf: the update's size; a child to its parent: a partial's size).
/// </summary>
public sealed class AggregatorPlacement
{
    internal AggregatorPlacement(IReadOnlyList<PlacementNode> nodes, PlacementDemand demand, List<PlacedAggregator> aggregators, List<UpdateRoute> routes)
    {
        Nodes = nodes;
        Demand = demand;
        Aggregators = aggregators;
        Routes = routes;
        var hosted = new int[nodes.Count];
        foreach (var a in aggregators) hosted[a.Node]++;
        AggregatorsPerNode = hosted;
        foreach (var r in routes)
        {
            long bytes = r.Count * demand.UpdateBytes;
            if (r.SourceNode == aggregators[r.Leaf].Node) LocalBytes += bytes;
            else CrossNodeBytes += bytes;
        }
        foreach (var a in aggregators)
        {
            if (a.Parent < 0) continue;
            if (a.Node == aggregators[a.Parent].Node) LocalBytes += demand.PartialBytes;
            else CrossNodeBytes += demand.PartialBytes;
        }
        for (int n = 0; n < nodes.Count; n++)
            Overcommitted += Math.Max(0, hosted[n] - nodes[n].Capacity(demand.AggregatorsPerCore, demand.AggregatorBytes));
    }

    /// <summary>The nodes, in the order the demand's counts follow.</summary>
    public IReadOnlyList<PlacementNode> Nodes { get; }

    /// <summary>What was placed.</summary>
    public PlacementDemand Demand { get; }

    /// <summary>Every aggregator, leaves first, the top last.</summary>
    public IReadOnlyList<PlacedAggregator> Aggregators { get; }

    /// <summary>Where each node's updates go.</summary>
    public IReadOnlyList<UpdateRoute> Routes { get; }

    /// <summary>Aggregators on each node.</summary>
    public IReadOnlyList<int> AggregatorsPerNode { get; }

    /// <summary>The top aggregator.</summary>
    public PlacedAggregator Top => Aggregators[^1];

    /// <summary>Bytes of hops that stay on their node.</summary>
    public long LocalBytes { get; }

    /// <summary>Bytes of hops between nodes.</summary>
    public long CrossNodeBytes { get; }

    /// <summary>The share of the round's hop bytes that stay on their node.</summary>
    public double LocalFraction => (double)LocalBytes / Math.Max(1, LocalBytes + CrossNodeBytes);

    /// <summary>Aggregators placed beyond their node's capacity (only when all the nodes together lack room).</summary>
    public int Overcommitted { get; }
}
