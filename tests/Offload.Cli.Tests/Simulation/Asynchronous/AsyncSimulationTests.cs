using Offload.Core.Federation;
using Offload.Aggregator.Buffered;
using Offload.Aggregator.Staleness;
using Offload.Cli.Simulation.Asynchronous;
using Offload.Client.Training;
using Offload.Core.Data;

namespace Offload.Cli.Tests.Simulation.Asynchronous;

[Collection(TorchThreadCount.Name)]
public class AsyncSimulationTests
{
    private static readonly TrainTestDataset Bundled = FashionMnistCatalog.LoadBundled();

    private static AsyncSimulationResult Run(IStalenessCorrector corrector, int workers, int tau = 2, int versions = 4, Offload.Core.Codec.FedZipOptions? fedZip = null)
    {
        var partitions = PartitionScheme.Shards(1).Split(Bundled.Train, 20, 3);
        var delayed = partitions.Select(p => Bundled.Train.Labels[p.Indices[0]] == 5).ToArray();
        var options = new AsyncSimulationOptions
        {
            Versions = versions,
            Server = new FedBuffOptions { BufferSize = 5, HistoryWindow = tau + 1 },
            Training = new TrainingOptions(1, 20, 0.05),
            EvaluateEvery = 2,
            EvaluationSamples = 200,
            Workers = workers,
            CorrectionQueueCapacity = 1,
            Seed = 3,
            MeasureAgainstFresh = true,
            FedZip = fedZip,
        };
        using var simulation = new AsyncSimulation(options, Bundled.Train, Bundled.Test, partitions, _ => TorchTrainer.CreateDefault(3));
        return simulation.Run(new FixedDelaySchedule(20, 5, delayed, tau, 3), corrector);
    }

    [Fact]
    public void Fixed_delay_run_is_deterministic_by_seed_whatever_the_worker_count()
    {
        var one = Run(new PolynomialStalenessWeighting(), workers: 1);
        var two = Run(new PolynomialStalenessWeighting(), workers: 2);
        Assert.Equal(one.FinalWeights, two.FinalWeights);
        Assert.Equal(one.Versions.Select(v => v.Accuracy), two.Versions.Select(v => v.Accuracy));
        Assert.Equal(4, one.Versions.Count);
        Assert.True(double.IsNaN(one.Versions[0].Accuracy) && !double.IsNaN(one.Versions[1].Accuracy)); // Every 2nd version.
    }

    [Fact]
    public void Updates_travel_through_the_codec_as_on_the_wire()
    {
        var exact = Run(new PolynomialStalenessWeighting(), workers: 2, versions: 2);
        var compressed = Run(new PolynomialStalenessWeighting(), workers: 2, versions: 2, fedZip: new Offload.Core.Codec.FedZipOptions { TopZ = 0.01 });
        Assert.NotEqual(exact.FinalWeights, compressed.FinalWeights); // FedZip keeps 1% of each update: the server sees the decoded payload.
        Assert.All(compressed.FinalWeights, w => Assert.True(float.IsFinite(w)));
        Assert.Equal(exact.Versions.Sum(v => v.Folded), compressed.Versions.Sum(v => v.Folded));
    }

    [Fact]
    public void Stale_updates_reach_the_corrector_with_their_staleness_and_the_window_stays_bounded()
    {
        var result = Run(new HingeStalenessWeighting(10, 0), workers: 2, tau: 2, versions: 5);
        Assert.NotEmpty(result.Corrections);
        Assert.All(result.Corrections, c => Assert.InRange(c.Staleness, 1, 2));
        Assert.All(result.Corrections, c => Assert.Equal(CorrectionOutcome.Weighted, c.Outcome));
        Assert.Equal(result.Corrections.Count, result.Versions.Sum(v => v.Stale));
        Assert.All(result.Corrections, c => Assert.NotNull(c.StaleErrorVsFresh));
        Assert.Equal(3, result.HistoryWindow);
        Assert.Equal(3L * 46_730 * sizeof(float), result.HistoryPeakBytes);
        Assert.Equal(0, result.Dropped);
        Assert.All(result.Versions, v => Assert.Equal(5, v.Folded));
    }

    [Fact]
    public void A_client_whose_training_diverges_sends_nothing_and_the_run_goes_on()
    {
        var partitions = PartitionScheme.Shards(1).Split(Bundled.Train, 20, 3);
        // A client of the first buffer, delayed, so that it arrives fresh at first and stale later.
        var delayed = new bool[20];
        int client = new FixedDelaySchedule(20, 5, delayed, 2, 3).Select(1)[0];
        delayed[client] = true;
        int poisoned = partitions[client].Indices[0];
        var options = new AsyncSimulationOptions
        {
            Versions = 3,
            Server = new FedBuffOptions { BufferSize = 5, HistoryWindow = 3 },
            Training = new TrainingOptions(1, 20, 0.05),
            EvaluateEvery = 3,
            EvaluationSamples = 200,
            Workers = 2,
            Seed = 3,
        };
        var trainers = new List<DivergesOn>();
        using var simulation = new AsyncSimulation(options, Bundled.Train, Bundled.Test, partitions, _ =>
        {
            var trainer = new DivergesOn(poisoned, TorchTrainer.CreateDefault(3));
            lock (trainers) trainers.Add(trainer);
            return trainer;
        });
        var result = simulation.Run(new FixedDelaySchedule(20, 5, delayed, 2, 3), new PolynomialStalenessWeighting());
        int diverged = trainers.Sum(t => t.Diverged);
        Assert.True(diverged > 0);
        Assert.Equal(3, result.Versions.Count);
        Assert.Equal(diverged, result.Versions.Sum(v => v.Dropped));
        Assert.All(result.FinalWeights, w => Assert.True(float.IsFinite(w)));
    }

    /// <summary>A trainer whose training of one client's data diverges, as a model blown up by an attack makes it.</summary>
    private sealed class DivergesOn(int firstIndex, ITrainer inner) : ITrainer
    {
        private int _diverged;

        public int Diverged => _diverged;

        public Offload.Core.Model.TensorLayout Layout => inner.Layout;

        public void ExportWeights(Span<float> destination) => inner.ExportWeights(destination);

        public TrainingResult Train(ReadOnlySpan<float> startWeights, ImageDataset data, ReadOnlySpan<int> indices, TrainingOptions options, int seed, Span<float> update, CancellationToken cancellationToken = default) =>
            indices[0] == firstIndex ? throw Diverge() : inner.Train(startWeights, data, indices, options, seed, update, cancellationToken);

        private TrainingDivergedException Diverge()
        {
            Interlocked.Increment(ref _diverged);
            return new TrainingDivergedException("Training diverged: the test's poisoned client.");
        }

        public EvaluationResult Evaluate(ReadOnlySpan<float> weights, ImageDataset data, int start, int count) => inner.Evaluate(weights, data, start, count);

        public EvaluationResult Evaluate(ReadOnlySpan<float> weights, ImageDataset data, ReadOnlySpan<int> indices) => inner.Evaluate(weights, data, indices);

        public void Dispose() => inner.Dispose();
    }
}
