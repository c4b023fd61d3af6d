namespace Offload.Aggregator.Placement;

/// <summary>What a round asks of the nodes: where its updates land, how large they are, and the tree's fan-in bound.</summary>
/// <param name="ArrivalsPerNode">Updates expected to land on each node (by the index of the node in the plan's list): the gateway replica a device reaches.</param>
/// <param name="UpdateBytes">Bytes of one update on the wire (compressed, as the device sent it).</param>
/// <param name="PartialBytes">Bytes of one partial aggregate (a dense sum: the model's size).</param>
/// <param name="MaxFanIn">The most inputs one aggregator takes.</param>
public sealed record PlacementDemand(IReadOnlyList<int> ArrivalsPerNode, long UpdateBytes, long PartialBytes, int MaxFanIn)
{
    /// <summary>Aggregators one free core runs (they are event-driven and mostly wait for input).</summary>
    public int AggregatorsPerCore { get; init; } = 4;

    /// <summary>Memory one aggregator needs; by default twice a partial (its sum and one input being folded).</summary>
    public long? BytesPerAggregator { get; init; }

    /// <summary>The memory one aggregator needs, after the default.</summary>
    public long AggregatorBytes => BytesPerAggregator ?? 2 * PartialBytes;

    /// <summary>Updates in the round.</summary>
    public long TotalUpdates
    {
        get
        {
            long total = 0;
            foreach (int a in ArrivalsPerNode) total += a;
            return total;
        }
    }

    /// <summary>Checks the demand against <paramref name="nodes"/>, naming the first thing that is wrong.</summary>
    /// <exception cref="ArgumentException">The counts do not match the nodes, one is negative, there are no updates, a size is not positive, or the fan-in is below 2.</exception>
    public PlacementDemand Validate(IReadOnlyList<PlacementNode> nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        if (nodes.Count == 0) throw new ArgumentException("A placement needs at least one node.", nameof(nodes));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            ArgumentNullException.ThrowIfNull(node, nameof(nodes));
            node.Validate();
            if (!names.Add(node.Name)) throw new ArgumentException($"Node '{node.Name}' is listed twice.", nameof(nodes));
        }
        if (ArrivalsPerNode.Count != nodes.Count)
            throw new ArgumentException($"The demand gives arrivals for {ArrivalsPerNode.Count} nodes; the plan has {nodes.Count}.", nameof(ArrivalsPerNode));
        for (int i = 0; i < ArrivalsPerNode.Count; i++)
            if (ArrivalsPerNode[i] < 0) throw new ArgumentException($"Node '{nodes[i].Name}' expects {ArrivalsPerNode[i]} updates; counts cannot be negative.", nameof(ArrivalsPerNode));
        if (TotalUpdates < 1) throw new ArgumentException("The round expects no updates; there is nothing to place.", nameof(ArrivalsPerNode));
        if (TotalUpdates > int.MaxValue) throw new ArgumentException($"The round expects {TotalUpdates} updates; at most {int.MaxValue} can be placed.", nameof(ArrivalsPerNode));
        if (UpdateBytes < 1 || PartialBytes < 1) throw new ArgumentException($"Update and partial sizes must be positive (got {UpdateBytes} and {PartialBytes} bytes).", nameof(UpdateBytes));
        if (MaxFanIn < 2) throw new ArgumentException($"The fan-in bound is {MaxFanIn}; it must be at least 2.", nameof(MaxFanIn));
        if (AggregatorsPerCore < 1) throw new ArgumentException($"Aggregators per core is {AggregatorsPerCore}; it must be at least 1.", nameof(AggregatorsPerCore));
        if (BytesPerAggregator is < 1) throw new ArgumentException($"Bytes per aggregator is {BytesPerAggregator}; it must be positive.", nameof(BytesPerAggregator));
        return this;
    }
}
