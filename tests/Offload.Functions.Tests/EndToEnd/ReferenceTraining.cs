using Offload.Aggregator.Strategies;
using Offload.Cli.Simulation;
using Offload.Client.Federation;
using Offload.Client.Training;
using Offload.Core.Data;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// What the end-to-end tests share: gentle local training on the bundled data, the devices' trainers,
/// one participation per device, and the in-process simulator's model as the reference.
/// </summary>
internal static class ReferenceTraining
{
    /// <summary>Relative L2 difference the gateway's model may have from the simulator's (fold order changes float rounding only).</summary>
    public const double RelativeTolerance = 1e-4;

    /// <summary>
    /// Every client each round, one local epoch of B = 50 at lr = 0.02: rounding differences stay at
    /// rounding size (see <see cref="FederatedTrainingTests"/>).
    /// </summary>
    public static SimulationOptions Options(int clients, int rounds, int seed) => new()
    {
        Clients = clients, Rounds = rounds, Fraction = 1, LocalEpochs = 1, BatchSize = 50, LearningRate = 0.02, Seed = seed, Workers = 2,
    };

    /// <summary>The bundled subset, with one libtorch thread, as the client processes use: a convolution's reductions then run in the same order everywhere.</summary>
    public static TrainTestDataset Data()
    {
        TorchSharp.torch.set_num_threads(1);
        return FashionMnistCatalog.LoadBundled();
    }

    /// <summary>One trainer per device, created on this thread (libtorch seeds through a global generator).</summary>
    public static TorchTrainer[] Trainers(TrainTestDataset data, SimulationOptions options) =>
        Enumerable.Range(0, options.Clients).Select(_ => TorchTrainer.CreateDefault(options.Seed, data.Train.Rows, data.Train.Columns, data.Train.ClassCount)).ToArray();

    /// <summary>Every device takes part until the federation is done, each in its own task; the trainers are disposed after.</summary>
    public static async Task<IReadOnlyList<RoundParticipation>[]> ParticipateAllAsync(TrainTestDataset data, SimulationOptions options, Func<int, FederatedClient> client)
    {
        var partitions = ClientPartitions.Create(data.Train, options);
        var trainers = Trainers(data, options);
        try
        {
            return await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(i => Task.Run(() =>
                client(i).ParticipateAsync(trainers[i], data.Train, partitions[i].Indices, i, options.Seed))))
                .WaitAsync(TimeSpan.FromMinutes(3));
        }
        finally
        {
            foreach (var t in trainers) t.Dispose();
        }
    }

    /// <summary>The in-process simulator's final model for the same options.</summary>
    public static float[] Simulate(TrainTestDataset data, SimulationOptions options)
    {
        var partitions = ClientPartitions.Create(data.Train, options);
        using var simulation = new FederatedSimulation(options, data.Train, data.Test, partitions,
            _ => TorchTrainer.CreateDefault(options.Seed, data.Train.Rows, data.Train.Columns, data.Train.ClassCount));
        return simulation.Run().FinalWeights;
    }

    /// <summary>Asserts a relative L2 difference of at most <see cref="RelativeTolerance"/>.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double difference = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)expected[i] - actual[i];
            difference += d * d;
            norm += (double)expected[i] * expected[i];
        }
        double relative = Math.Sqrt(difference / norm);
        Assert.True(relative <= RelativeTolerance, $"relative L2 difference {relative:E3} exceeds {RelativeTolerance:E0}");
    }
}
