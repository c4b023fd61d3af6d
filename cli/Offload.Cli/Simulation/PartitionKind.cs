namespace Offload.Cli.Simulation;

/// <summary>How the training set is split over clients.</summary>
public enum PartitionKind
{
    /// <summary>Uniformly at random, equal sizes.</summary>
    Iid,

    /// <summary>Label proportions per client drawn from Dirichlet(alpha).</summary>
    Dirichlet,

    /// <summary>Label-sorted shards, two per client (McMahan et al., 2017).</summary>
    Shards,
}
