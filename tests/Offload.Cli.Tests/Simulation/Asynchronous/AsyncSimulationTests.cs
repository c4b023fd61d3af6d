using Offload.Core.Federation;
using Offload.Aggregator.Buffered;
using Offload.Aggregator.Staleness;
using Offload.Cli.Simulation.Asynchronous;
using Offload.Client.Training;
using Offload.Core.Data;

namespace Offload.Cli.Tests.Simulation.Asynchronous;

public class AsyncSimulationTests
{
    private static readonly TrainTestDataset Bundled = FashionMnistCatalog.LoadBundled();

    private static AsyncSimulationResult Run(IStalenessCorrector corrector, int workers, int tau = 2, int versions = 4)
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
}
