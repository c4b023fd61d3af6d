namespace Offload.Aggregator.Placement;

/// <summary>A node aggregators can run on, as the planner sees it this round.</summary>
/// <param name="Name">The node's name (in Kubernetes, <c>NODE_NAME</c> from the downward API).</param>
/// <param name="Cores">Cores the node gives aggregators.</param>
/// <param name="MemoryBytes">Memory the node gives aggregators.</param>
/// <param name="Load">An EWMA of the node's CPU load, from 0 (idle) to 1 (saturated): the share of its cores already taken.</param>
public sealed record PlacementNode(string Name, int Cores, long MemoryBytes, double Load)
{
    /// <summary>Checks the fields, naming the first that is wrong.</summary>
    /// <exception cref="ArgumentException">A name is empty, cores or memory are not positive, or the load is not in [0, 1].</exception>
    public PlacementNode Validate()
    {
        if (string.IsNullOrWhiteSpace(Name)) throw new ArgumentException("A placement node needs a name.", nameof(Name));
        if (Cores < 1) throw new ArgumentException($"Node '{Name}' has {Cores} cores; at least 1 is needed.", nameof(Cores));
        if (MemoryBytes < 1) throw new ArgumentException($"Node '{Name}' has {MemoryBytes} bytes of memory; it must be positive.", nameof(MemoryBytes));
        if (!(Load >= 0 && Load <= 1)) throw new ArgumentException($"Node '{Name}' has load {Load}; it must be in [0, 1].", nameof(Load));
        return this;
    }

    /// <summary>
    /// Aggregators the node can host: its free cores times <paramref name="perCore"/>, and no more than
    /// its memory holds at <paramref name="bytesPerAggregator"/> each (a dense partial sum and its buffers).
    /// </summary>
    public int Capacity(int perCore, long bytesPerAggregator)
    {
        double free = Math.Floor(Cores * (1 - Load) * perCore);
        long byMemory = MemoryBytes / Math.Max(1, bytesPerAggregator);
        return (int)Math.Min(Math.Min(free, byMemory), int.MaxValue);
    }
}
