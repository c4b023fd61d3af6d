using System.Numerics.Tensors;
using Offload.Aggregator.Strategies;
using Offload.Cli.Experiments;
using Offload.Cli.Simulation;
using Offload.Client.Training;
using Offload.Core.Data;

namespace Offload.Cli.Tests.Simulation;

/// <summary>
/// Byzantine clients end to end on full Fashion-MNIST: 10 clients, one of which sends its update times
/// -10, or Gaussian noise of 100 times its honest norm. FedAvg collapses to chance; the median, the
/// trimmed mean, Multi-Krum and FedAvg clipped at the honest run's median update norm stay within 2
/// points of the honest run. Krum is held to 2 points of Krum without an attacker instead: it keeps one
/// client's update a round, which on IID data costs it 3 to 6 points against the honest average
/// whether or not anyone attacks (docs/benchmarks.md; the figure moves with the CPU's float kernels),
/// so its defence is that the attacker changes nothing, not that it matches the average.
/// Two rounds keep the suite within its time; the settings are the experiment's
/// (<c>offload experiment byzantine</c>), except the clipping bound, here the median over these two
/// rounds (larger than the experiment's over ten, so honest updates are clipped less early on).
/// Seeded, so deterministic.
/// </summary>
public sealed class ByzantineClientsTests(ByzantineClientsTests.HonestRun honest) : IClassFixture<ByzantineClientsTests.HonestRun>
{
    /// <summary>Rounds of every run: enough for each defence to settle within 2 points of the honest model.</summary>
    public const int Rounds = 2;

    /// <summary>The honest FedAvg run, shared by the cases, and the clipping bound measured in it.</summary>
    public sealed class HonestRun
    {
        public HonestRun()
        {
            // The full set (apt-get install dataset-fashion-mnist; .ci/run installs it): the claim is about the real data.
            Data = FashionMnistCatalog.FromEnvironment().Resolve();
            var norms = new UpdateNormTap();
            Accuracy = Run(Data, Options, attack: null, norms);
            ClipNorm = norms.MedianNorm;
            Krum = new(() => Run(Data, Options with { Strategy = StrategyCatalog.Parse("krum") }, attack: null, tap: null));
        }

        public TrainTestDataset Data { get; }

        public double Accuracy { get; }

        public double ClipNorm { get; }

        /// <summary>Krum with no attacker, for the Krum cases only.</summary>
        public Lazy<double> Krum { get; }
    }

    private static readonly SimulationOptions Options = new() { Clients = 10, Rounds = Rounds, Partition = PartitionKind.Iid, Seed = 42, Workers = 2 };

    public static TheoryData<string, string, double> Defences => new()
    {
        { "scale", "median", 0.02 }, { "scale", "trimmedmean", 0.02 }, { "scale", "multikrum", 0.02 }, { "scale", "clip", 0.02 }, { "scale", "krum", 0.02 },
        { "noise", "median", 0.02 }, { "noise", "trimmedmean", 0.02 }, { "noise", "multikrum", 0.02 }, { "noise", "clip", 0.02 }, { "noise", "krum", 0.02 },
    };

    [Theory]
    [InlineData("scale")]
    [InlineData("noise")]
    public void FedAvg_collapses_under_one_attacker(string attack)
    {
        double attacked = Run(honest.Data, Options, Attack(attack), tap: null);
        Assert.True(attacked < honest.Accuracy - 0.2, $"attacked FedAvg {attacked:P2}, honest {honest.Accuracy:P2}");
    }

    [Theory]
    [MemberData(nameof(Defences))]
    public void A_defence_stays_near_the_honest_run(string attack, string defence, double allowed)
    {
        var strategy = defence == "clip" ? new NormClipping(new FedAvg(), honest.ClipNorm) : StrategyCatalog.Parse(defence);
        double defended = Run(honest.Data, Options with { Strategy = strategy }, Attack(attack), tap: null);
        double reference = defence == "krum" ? honest.Krum.Value : honest.Accuracy;
        Assert.True(defended >= reference - allowed, $"{strategy.Name} under {attack}: {defended:P2}, honest {reference:P2}, allowed {allowed:P0} below");
    }

    [Fact]
    public void The_attacks_send_what_they_claim()
    {
        float[] update = [3f, 4f];
        ByzantineClients.Scaled([0], -10).Tamper(1, 0, update);
        Assert.Equal(new[] { -30f, -40f }, update);
        float[] honestUpdate = Enumerable.Range(0, 1000).Select(i => (float)Math.Sin(i)).ToArray();
        var noisy = honestUpdate.ToArray();
        ByzantineClients.Noise([0], 100, seed: 1).Tamper(1, 0, noisy);
        Assert.Equal(100 * TensorPrimitives.Norm(honestUpdate), TensorPrimitives.Norm(noisy), 1);
        var untouched = honestUpdate.ToArray();
        ByzantineClients.Noise([0], 100, seed: 1).Tamper(1, 3, untouched); // Client 3 is honest.
        Assert.Equal(honestUpdate, untouched);
    }

    private static ByzantineClients Attack(string kind) =>
        kind == "scale" ? ByzantineClients.Scaled([0], -10) : ByzantineClients.Noise([0], 100, seed: 42);

    private static double Run(TrainTestDataset data, SimulationOptions options, ByzantineClients? attack, IUpdateTap? tap)
    {
        TorchSharp.torch.set_num_threads(1);
        var partitions = ClientPartitions.Create(data.Train, options);
        using var simulation = new FederatedSimulation(options, data.Train, data.Test, partitions,
            _ => TorchTrainer.CreateDefault(options.Seed, data.Train.Rows, data.Train.Columns, data.Train.ClassCount))
        {
            Attack = attack,
            Tap = tap,
        };
        return simulation.Run().FinalAccuracy;
    }
}
