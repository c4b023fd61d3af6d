using Offload.Aggregator.Strategies;
using Offload.Cli.Simulation;
using Offload.Client.Training;
using Offload.Core.Data;

namespace Offload.Cli.Tests.Simulation;

[Collection(TorchThreadCount.Name)]
public class FederatedSimulationTests
{
    private static readonly TrainTestDataset Bundled = FashionMnistCatalog.LoadBundled();

    private static SimulationResult Simulate(SimulationOptions options)
    {
        var partitions = ClientPartitions.Create(Bundled.Train, options);
        using var simulation = new FederatedSimulation(options, Bundled.Train, Bundled.Test, partitions,
            _ => TorchTrainer.CreateDefault(options.Seed));
        return simulation.Run();
    }

    [Fact]
    public void Fedavg_on_the_bundled_subset_learns_well_beyond_chance_and_is_deterministic()
    {
        var options = new SimulationOptions { Clients = 8, Rounds = 3, Fraction = 1, BatchSize = 16, LearningRate = 0.1, Seed = 5, Workers = 2 };
        var first = Simulate(options);
        var second = Simulate(options with { Workers = 1 });

        Assert.Equal(3, first.Rounds.Count);
        // Ten balanced classes: chance is 10%. Three rounds over 4,000 images reach well above 50%.
        Assert.True(first.FinalAccuracy > 0.5, $"final accuracy {first.FinalAccuracy:P1}");
        // Same seed, different worker count and thread interleaving: bit-identical model.
        Assert.Equal(first.FinalWeights, second.FinalWeights);
        Assert.Equal(first.Rounds.Select(r => r.Accuracy), second.Rounds.Select(r => r.Accuracy));
        Assert.All(first.Rounds, r => Assert.Equal(8, r.Clients));
        // Raw uploads: the identity payload (floats, header, CRC) of each of the 8 clients.
        Assert.All(first.Rounds, r => Assert.InRange(r.BytesUp, 8L * 46_730 * 4, 8L * (46_730 * 4 + 512)));
    }

    [Fact]
    public void Hierarchical_aggregation_gives_the_flat_model_within_float_tolerance_and_placed_on_nodes_keeps_more_bytes_local()
    {
        // One round: later rounds train from the (float-rounding) different models and amplify the gap.
        var options = new SimulationOptions { Clients = 9, Rounds = 1, Fraction = 1, Seed = 3, Workers = 2 };
        var flat = Simulate(options);
        // The tree run also places each round on three simulated nodes; placement is bookkeeping over the same folds.
        var tree = Simulate(options with { HierarchyFanIn = 2, Nodes = 3 });
        Assert.Equal(flat.Rounds.Select(r => r.Clients), tree.Rounds.Select(r => r.Clients));
        for (int i = 0; i < flat.FinalWeights.Length; i++)
            Assert.True(Math.Abs(flat.FinalWeights[i] - tree.FinalWeights[i]) <= 1e-6f * (1 + Math.Abs(flat.FinalWeights[i])),
                $"weight {i}: flat {flat.FinalWeights[i]} tree {tree.FinalWeights[i]}");

        Assert.Null(flat.Rounds[0].Placement);
        var placed = Assert.IsType<RoundPlacement>(tree.Rounds[0].Placement);
        Assert.Equal(0, placed.Overcommitted);
        // The planner folds each node's updates there; round-robin pairs blindly.
        Assert.True(placed.PlannedCrossBytes <= placed.RoundRobinCrossBytes, $"{placed.PlannedCrossBytes} against {placed.RoundRobinCrossBytes}");
        Assert.True(placed.PlannedLocal >= placed.RoundRobinLocal);
        Assert.InRange(placed.PlannedLocal, 0, 1);
        string csv = Offload.Cli.Reports.RunReport.Csv(tree.Rounds);
        Assert.StartsWith(Offload.Cli.Reports.RunReport.CsvHeader + "," + Offload.Cli.Reports.RunReport.PlacementColumns + "\n", csv);
        Assert.DoesNotContain("planned_local_fraction", Offload.Cli.Reports.RunReport.Csv(flat.Rounds));
    }

    [Theory]
    [InlineData(0, 1.0, "--nodes")]
    [InlineData(5000, 1.0, "--nodes")]
    [InlineData(4, -1.0, "--node-skew")]
    [InlineData(4, double.NaN, "--node-skew")]
    public void Bad_node_settings_are_named(int nodes, double skew, string option)
    {
        var e = Assert.Throws<InvalidOptionException>(() => new SimulationOptions { Nodes = nodes, NodeSkew = skew }.Validate());
        Assert.StartsWith(option, e.Message);
    }

    [Fact]
    public void Fedzip_uploads_count_real_payload_bytes_and_still_learn()
    {
        var options = new SimulationOptions { Clients = 8, Rounds = 3, Fraction = 1, BatchSize = 16, LearningRate = 0.1, Seed = 5, Workers = 2 };
        var raw = Simulate(options);
        var zipped = Simulate(options with { FedZip = new Offload.Core.Codec.FedZipOptions { TopZ = 0.1 } });
        var noFeedback = Simulate(options with { FedZip = new Offload.Core.Codec.FedZipOptions { TopZ = 0.1, ErrorFeedback = false } });
        long rawUp = raw.Rounds.Sum(r => r.BytesUp), zipUp = zipped.Rounds.Sum(r => r.BytesUp);
        // The identity payload is the floats plus a small header and CRC.
        Assert.InRange(rawUp, 3L * 8 * 46_730 * 4, 3L * 8 * (46_730 * 4 + 256));
        Assert.True(zipUp * 5 < rawUp, $"fedzip {zipUp} B vs raw {rawUp} B");
        Assert.True(zipped.FinalAccuracy > 0.4, $"fedzip accuracy {zipped.FinalAccuracy:P1}");
        Assert.NotEqual(zipped.FinalWeights, noFeedback.FinalWeights);
    }

    [Fact]
    public void Downstream_compression_sends_changes_smaller_than_the_model()
    {
        var options = new SimulationOptions
        {
            Clients = 4, Rounds = 2, Fraction = 1, Seed = 2, Workers = 2,
            Downstream = Offload.Aggregator.Rounds.DownstreamMode.FedZip, DownstreamFedZip = new Offload.Core.Codec.FedZipOptions { TopZ = 0.05 },
        };
        var result = Simulate(options);
        Assert.All(result.Rounds, r => Assert.True(r.BytesDown < 4L * 46_730 * 4 / 5, $"round {r.Round}: {r.BytesDown} B down"));
        // Identity uploads with compressed downloads: the two directions are set apart.
        var full = Simulate(options with { Downstream = Offload.Aggregator.Rounds.DownstreamMode.Full });
        Assert.All(full.Rounds, r => Assert.True(r.BytesDown > 4L * 46_730 * 4, $"round {r.Round}: {r.BytesDown} B down"));
        Assert.NotEqual(full.FinalWeights, result.FinalWeights);
    }

    [Fact]
    public void Another_seed_gives_another_model()
    {
        var options = new SimulationOptions { Clients = 4, Rounds = 1, Fraction = 0.5, Seed = 1, Workers = 2 };
        Assert.NotEqual(Simulate(options).FinalWeights, Simulate(options with { Seed = 2 }).FinalWeights);
    }

    [Fact]
    public void Selection_is_seeded_sorted_and_sized_by_fraction()
    {
        var options = new SimulationOptions { Clients = 10, Rounds = 2, Fraction = 0.3, Seed = 9, Workers = 1 };
        var partitions = ClientPartitions.Create(Bundled.Train, options);
        using var simulation = new FederatedSimulation(options, Bundled.Train, Bundled.Test, partitions, _ => TorchTrainer.CreateDefault(9));
        var round1 = simulation.SelectClients(1);
        Assert.Equal(3, round1.Length);
        Assert.Equal(round1.Order(), round1);
        Assert.Equal(round1, simulation.SelectClients(1));
        Assert.Equal(round1.Distinct().Count(), round1.Length);
    }

    [Fact]
    public void Partitions_must_match_the_client_count()
    {
        var options = new SimulationOptions { Clients = 3, Workers = 1 };
        var wrong = ClientPartitions.Create(Bundled.Train, options with { Clients = 2 });
        Assert.Throws<ArgumentException>(() => new FederatedSimulation(options, Bundled.Train, Bundled.Test, wrong, _ => TorchTrainer.CreateDefault(1)));
    }

    [Theory]
    [InlineData(0, 1, 1.0)]
    [InlineData(2, 0, 1.0)]
    [InlineData(2, 1, 0.0)]
    [InlineData(2, 1, 1.5)]
    [InlineData(2, 1, double.NaN)]
    public void Invalid_options_are_named(int clients, int rounds, double fraction)
    {
        var e = Assert.Throws<InvalidOptionException>(() => new SimulationOptions { Clients = clients, Rounds = rounds, Fraction = fraction }.Validate());
        Assert.StartsWith("--", e.Message);
    }
}
