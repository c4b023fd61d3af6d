using Offload.Aggregator.Rounds;
using Offload.Aggregator.Strategies;
using System.Text.Json.Nodes;
using Offload.Core.Codec;

namespace Offload.Cli.Simulation;

/// <summary>
/// Settings of an in-process synchronous simulation. Immutable; <see cref="Validate"/> names
/// the first bad setting. The defaults finish in a few minutes on two cores.
/// </summary>
public sealed record SimulationOptions
{
    /// <summary>The algorithm (<c>--strategy</c>, <see cref="StrategyCatalog"/>); FedAvg by default.</summary>
    public AggregationStrategy Strategy { get; init; } = new FedAvg();

    /// <summary>Number of simulated clients (K).</summary>
    public int Clients { get; init; } = 20;

    /// <summary>Number of communication rounds.</summary>
    public int Rounds { get; init; } = 10;

    /// <summary>Fraction of clients selected per round (C), in (0, 1].</summary>
    public double Fraction { get; init; } = 1.0;

    /// <summary>Local epochs per round (E).</summary>
    public int LocalEpochs { get; init; } = 1;

    /// <summary>Local batch size (B).</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Local SGD learning rate.</summary>
    public double LearningRate { get; init; } = 0.1;

    /// <summary>How data is split over clients.</summary>
    public PartitionKind Partition { get; init; } = PartitionKind.Iid;

    /// <summary>Dirichlet concentration for <see cref="PartitionKind.Dirichlet"/>.</summary>
    public double Alpha { get; init; } = 0.5;

    /// <summary>Seed for model initialisation, partitioning, selection and local shuffling.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Clients trained at once; each holds one model copy. Defaults to the core count.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Fan-in bound of the hierarchical aggregation tree (leaf, middle, top), or 0 for one flat
    /// accumulator. The planner sizes the tree per round within this bound.
    /// </summary>
    public int HierarchyFanIn { get; init; }

    /// <summary>
    /// FedZip settings for uploads (z, clusters, encoding, error feedback), or null to send raw
    /// float32 through the identity codec. Either way the bytes counted are the real payloads.
    /// </summary>
    public FedZipOptions? FedZip { get; init; }

    /// <summary>
    /// What clients download: the whole model, or with <see cref="DownstreamMode.FedZip"/> the
    /// FedZip-encoded change since the model they hold (<see cref="ModelBroadcast"/>, as the gateway does).
    /// </summary>
    public DownstreamMode Downstream { get; init; } = DownstreamMode.Full;

    /// <summary>The encoder's settings for a <see cref="DownstreamMode.FedZip"/> downstream (the gateway's default: top-z 0.1).</summary>
    public FedZipOptions DownstreamFedZip { get; init; } = RoundOptions.DefaultDownstreamFedZip;

    /// <summary>
    /// Nodes the federation's devices land on (<c>--nodes</c>; 1: no placement). With more, each client
    /// lands on one node (Zipf <see cref="NodeSkew"/> over a <see cref="SimulatedCluster"/> drawn from the
    /// seed), and every round its tree is placed on the nodes by the locality-aware planner and by
    /// round-robin pairing, counting the round's real update bytes that stay on their node.
    /// </summary>
    public int Nodes { get; init; } = 1;

    /// <summary>Zipf exponent of clients over the nodes (<c>--node-skew</c>; 0: even).</summary>
    public double NodeSkew { get; init; } = 1.0;

    /// <summary>The fan-in bound placement plans with: <see cref="HierarchyFanIn"/>, or 10 when aggregation is flat.</summary>
    public int PlacementFanIn => HierarchyFanIn > 0 ? HierarchyFanIn : 10;

    /// <summary>Clients selected in each round: max(1, round(C * K)).</summary>
    public int ClientsPerRound => Math.Max(1, (int)Math.Round(Fraction * Clients));

    /// <summary>The settings as summary.json records them.</summary>
    public JsonObject ToJson(string dataSource) => new()
    {
        ["strategy"] = Strategy.Name,
        ["clients"] = Clients,
        ["rounds"] = Rounds,
        ["fraction"] = Fraction,
        ["clients_per_round"] = ClientsPerRound,
        ["local_epochs"] = LocalEpochs,
        ["batch"] = BatchSize,
        ["lr"] = LearningRate,
        ["partition"] = Partition.ToString().ToLowerInvariant(),
        ["alpha"] = Alpha,
        ["seed"] = Seed,
        ["workers"] = Workers,
        ["hierarchy_fan_in"] = HierarchyFanIn,
        ["nodes"] = Nodes,
        ["node_skew"] = Nodes > 1 ? NodeSkew : null,
        ["codec"] = FedZip is null ? "none" : "fedzip",
        ["topz"] = FedZip?.TopZ,
        ["clusters"] = FedZip?.Clusters,
        ["encoding"] = FedZip?.Encoding.ToString().ToLowerInvariant(),
        ["error_feedback"] = FedZip?.ErrorFeedback,
        ["dense_threshold"] = FedZip?.DenseThreshold,
        ["downstream"] = Options.DownstreamArgument.Format(Downstream, DownstreamFedZip),
        ["data"] = dataSource,
        ["model"] = "cnn(conv5x5x16, conv5x5x32, fc64, fc10)",
    };

    /// <summary>Maps the <c>--partition</c> word to its kind.</summary>
    /// <exception cref="InvalidOptionException">The word is not iid, dirichlet or shards.</exception>
    public static PartitionKind ParsePartition(string value) => value.ToLowerInvariant() switch
    {
        "iid" => PartitionKind.Iid,
        "dirichlet" => PartitionKind.Dirichlet,
        "shards" => PartitionKind.Shards,
        _ => throw new InvalidOptionException($"--partition must be iid, dirichlet or shards (got '{value}')."),
    };

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="InvalidOptionException">The message names the option and its allowed range.</exception>
    public SimulationOptions Validate()
    {
        if (Strategy is null) throw new InvalidOptionException("--strategy names no strategy.");
        Require(Clients >= 1, Clients, "--clients must be at least 1");
        Require(Rounds >= 1, Rounds, "--rounds must be at least 1");
        Require(Fraction > 0 && Fraction <= 1, Fraction, "--fraction must be in (0, 1]");
        Require(LocalEpochs >= 1, LocalEpochs, "--local-epochs must be at least 1");
        Require(BatchSize >= 1, BatchSize, "--batch must be at least 1");
        Require(double.IsFinite(LearningRate) && LearningRate > 0, LearningRate, "--lr must be a positive number");
        Require(double.IsFinite(Alpha) && Alpha > 0, Alpha, "--alpha must be a positive number");
        Require(Workers >= 1, Workers, "--workers must be at least 1");
        Require(HierarchyFanIn == 0 || HierarchyFanIn >= 2, HierarchyFanIn, "--hierarchy must be 0 (flat) or a fan-in of at least 2");
        Require(Enum.IsDefined(Partition), Partition, "--partition must be iid, dirichlet or shards");
        Require(Nodes is >= 1 and <= 4096, Nodes, "--nodes must be in 1..4096");
        Require(double.IsFinite(NodeSkew) && NodeSkew is >= 0 and <= 10, NodeSkew, "--node-skew must be in 0..10");
        return this;
    }

    private static void Require(bool condition, object value, string message)
    {
        if (!condition) throw new InvalidOptionException($"{message} (got {value}).");
    }
}
