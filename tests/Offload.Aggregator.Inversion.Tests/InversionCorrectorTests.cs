using Offload.Client.Tests.Inversion;
using Offload.Core.Federation;
using Offload.Aggregator.Staleness;
using Offload.Client.Inversion;
using Offload.Client.Training;
using Offload.Core.Model;

namespace Offload.Aggregator.Inversion.Tests;

public class InversionCorrectorTests
{
    private static InversionCorrector Corrector(TinyTask task, double gate, int coldIterations = 60) =>
        new(new GradientInversion(task.Trainer.Layout, TinyTask.Side, TinyTask.Side, 10,
                new InversionOptions { DummySamples = 8, ColdStartIterations = coldIterations, WarmStartIterations = 10, UnrolledSteps = TinyTask.Steps }
                    .ForClient(new TrainingOptions(TinyTask.Steps, 8, TinyTask.LearningRate), 8)),
            gate, new PolynomialStalenessWeighting(0.5), seed: 4);

    private static StaleUpdate Update(TinyTask task, long baseVersion = 3, long currentVersion = 7, int client = 2) =>
        new(client, task.Trainer.Layout, task.Stale, 8, new ModelVersion(baseVersion), task.Base, new ModelVersion(currentVersion), task.Current);

    [Fact]
    public void Passing_the_gate_replaces_the_update_and_keeps_the_data_for_a_warm_start()
    {
        using var task = new TinyTask();
        var corrector = Corrector(task, gate: 0.5);
        var first = corrector.Correct(Update(task));
        Assert.Equal(CorrectionOutcome.Corrected, first.Outcome);
        Assert.Equal(1.0, first.Scale);
        Assert.NotNull(first.RelativeError);
        Assert.True(first.RelativeError < 0.5);
        Assert.False(first.Delta.Span.SequenceEqual(task.Stale));
        Assert.True(corrector.WarmStartBytes > 0);

        var second = corrector.Correct(Update(task));
        Assert.Equal(CorrectionOutcome.Corrected, second.Outcome);
        Assert.Equal(1, corrector.WarmStarts);
        Assert.Equal(2, corrector.Corrections);
        Assert.Equal(0, corrector.FallBackRate);
    }

    [Fact]
    public void Failing_the_gate_falls_back_to_weighting_counts_it_and_forgets_the_data()
    {
        using var task = new TinyTask();
        var corrector = Corrector(task, gate: 1e-9, coldIterations: 5);
        var c = corrector.Correct(Update(task, baseVersion: 3, currentVersion: 7));
        Assert.Equal(CorrectionOutcome.FellBack, c.Outcome);
        Assert.Equal(1 / Math.Sqrt(1 + 4), c.Scale, 12);            // FedAsync polynomial, tau = 4.
        Assert.True(c.Delta.Span.SequenceEqual(task.Stale));         // The stale update itself, down-weighted.
        Assert.True(c.RelativeError > 1e-9);
        Assert.Equal(1, corrector.FallBacks);
        Assert.Equal(1.0, corrector.FallBackRate);
        Assert.Equal(0, corrector.WarmStartBytes);
        corrector.Correct(Update(task));
        Assert.Equal(0, corrector.WarmStarts);                      // Failed data is not reused.
    }

    [Fact]
    public void Fresh_updates_skip_the_inversion_and_foreign_layouts_are_refused()
    {
        using var task = new TinyTask();
        var corrector = Corrector(task, 0.5);
        Assert.Equal(CorrectionOutcome.Unchanged, corrector.Correct(Update(task, 5, 5)).Outcome);
        Assert.Equal(0, corrector.Attempts);
        var other = TensorLayout.Create([("w", new[] { 3 })]);
        Assert.Throws<ArgumentException>(() => corrector.Correct(new StaleUpdate(0, other, new float[3], 1, ModelVersion.Initial, new float[3], new ModelVersion(1), new float[3])));
        Assert.Throws<ArgumentOutOfRangeException>(() => Corrector(task, 0));
    }

    [Fact]
    public async Task Runs_behind_the_correction_queue_off_the_caller_thread_with_its_cpu_time_measured()
    {
        using var task = new TinyTask();
        await using var queue = new CorrectionQueue(Corrector(task, 0.5), capacity: 2);
        var pending = await queue.EnqueueAsync(Update(task));
        var done = await pending.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(CorrectionOutcome.Corrected, done.Correction.Outcome);
        Assert.True(done.CpuSeconds > 0);
    }
}
