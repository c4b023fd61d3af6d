using Offload.Core.Data;

namespace Offload.Cli.Simulation;

/// <summary>Splits the training set over the simulated clients as the options say.</summary>
public static class ClientPartitions
{
    /// <summary>The scheme named by <paramref name="options"/>.</summary>
    public static PartitionScheme Scheme(SimulationOptions options) => options.Partition switch
    {
        PartitionKind.Iid => PartitionScheme.Iid,
        PartitionKind.Dirichlet => PartitionScheme.Dirichlet(options.Alpha),
        PartitionKind.Shards => PartitionScheme.Shards(),
        _ => throw new InvalidOptionException($"Unknown partition '{options.Partition}'."),
    };

    /// <summary>The partitions for <paramref name="options"/>, deterministic by its seed.</summary>
    public static IReadOnlyList<Partition> Create(ImageDataset train, SimulationOptions options) =>
        Scheme(options).Split(train, options.Clients, options.Seed);
}
