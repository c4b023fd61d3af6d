using Offload.Aggregator.Placement;

namespace Offload.Cli.Simulation;

/// <summary>
/// A simulated cluster for placement: nodes of 4 to 32 cores (16 to 64 GiB, load 0 to 0.6), and the
/// node each device lands on drawn from a Zipf law over the nodes in a random order (a few gateway
/// replicas take most devices). Shared by <c>simulate --nodes</c> and <c>bench placement</c>, so
/// both draw the same clusters from the same seed.
/// </summary>
public static class SimulatedCluster
{
    /// <summary><paramref name="count"/> nodes named <c>node-0</c>...</summary>
    public static PlacementNode[] Nodes(Random random, int count)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var nodes = new PlacementNode[count];
        int[] cores = [4, 8, 16, 32];
        for (int i = 0; i < count; i++)
            nodes[i] = new PlacementNode($"node-{i}", cores[random.Next(cores.Length)], (16L + random.Next(49)) << 30, random.NextDouble() * 0.6);
        return nodes;
    }

    /// <summary>The landing node of each of <paramref name="devices"/> devices, Zipf(<paramref name="skew"/>) over <paramref name="nodes"/> nodes in a random order.</summary>
    public static int[] Landings(Random random, int nodes, int devices, double skew)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(nodes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(devices);
        var weights = new double[nodes];
        double total = 0;
        for (int i = 0; i < nodes; i++) total += weights[i] = 1 / Math.Pow(i + 1, skew);
        var rank = new int[nodes];
        for (int i = 0; i < nodes; i++) rank[i] = i;
        random.Shuffle(rank);
        var landings = new int[devices];
        for (int k = 0; k < devices; k++)
        {
            double u = random.NextDouble() * total;
            int i = 0;
            while (i < nodes - 1 && (u -= weights[i]) > 0) i++;
            landings[k] = rank[i];
        }
        return landings;
    }

    /// <summary>How many of <paramref name="landings"/> land on each of <paramref name="nodes"/> nodes.</summary>
    public static int[] CountPerNode(ReadOnlySpan<int> landings, int nodes)
    {
        var counts = new int[nodes];
        foreach (int n in landings) counts[n]++;
        return counts;
    }
}
