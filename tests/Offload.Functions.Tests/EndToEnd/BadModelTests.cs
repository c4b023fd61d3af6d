using Microsoft.Extensions.Logging;
using Offload.Aggregator.Rounds;
using Offload.Cli.Simulation;
using Offload.Client.Federation;
using Offload.Client.Training;
using Offload.Core.Data;
using Offload.Core.Federation;
using Offload.Functions.Tests.Gateway;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// A device served a model it cannot train from (NaN weights, or weights a poisoned x1e6 update
/// blew up) over a real gateway: it skips the round without uploading, says why, and keeps asking
/// until the model is good again, where it used to throw from the encoder and leave the federation.
/// </summary>
public class BadModelTests
{
    private const int Seed = 7;

    private static async Task<(TestFederation Federation, PoisonedModelCoordinator Poisoned)> StartAsync(TrainTestDataset data)
    {
        using var initial = TorchTrainer.CreateDefault(Seed, data.Train.Rows, data.Train.Columns, data.Train.ClassCount);
        var weights = new float[initial.Layout.TotalLength];
        initial.ExportWeights(weights);
        var rounds = new RoundOptions
        {
            MinClients = 1,
            Rounds = 1,
            RoundDeadline = TimeSpan.FromHours(1),
            WaitRetry = TimeSpan.FromMilliseconds(20),
            Plan = new TrainingOptions(1, 50, 0.1),
        };
        PoisonedModelCoordinator? poisoned = null;
        var federation = await TestFederation.StartAsync(initial.Layout, weights, rounds, clients: 1,
            serve: c => poisoned = new PoisonedModelCoordinator(c));
        return (federation, poisoned!);
    }

    /// <summary>Takes part with device 0 until done, calling <paramref name="onSkip"/> synchronously at each skip.</summary>
    private static async Task<(IReadOnlyList<RoundParticipation> Rounds, List<SkippedRound> Skipped, List<string> Warnings)> ParticipateAsync(
        TestFederation federation, TrainTestDataset data, Action<List<SkippedRound>> onSkip, CancellationToken cancellationToken = default)
    {
        var warnings = new List<string>();
        using var loggers = new LoggerFactory([new WarningCapture(warnings)]);
        using var client = new FederatedClientBuilder(federation.Server.Address).WithToken(TestFederation.TokenOf(0)).WithLoggerFactory(loggers)
            .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(200) }).Build();
        var options = ReferenceTraining.Options(clients: 1, rounds: 1, Seed);
        var indices = ClientPartitions.Create(data.Train, options)[0].Indices[..200];
        using var trainer = ReferenceTraining.Trainers(data, options)[0];
        var skipped = new List<SkippedRound>();
        var progress = new Synchronous(p =>
        {
            if (p.Stage != ParticipationStage.Skipped) return;
            Assert.NotNull(p.Skipped);
            skipped.Add(p.Skipped);
            onSkip(skipped);
        });
        var rounds = await Task.Run(() => client.ParticipateAsync(trainer, data.Train, indices, 0, Seed, progress, cancellationToken))
            .WaitAsync(TimeSpan.FromMinutes(5));
        return (rounds, skipped, warnings);
    }

    [Fact]
    public async Task A_non_finite_model_is_skipped_without_an_upload_and_the_device_keeps_asking_until_it_is_good()
    {
        var data = ReferenceTraining.Data();
        var (federation, poisoned) = await StartAsync(data);
        await using var _ = federation;
        poisoned.Poison = w => { w[123] = float.NaN; return w; };

        var (rounds, skipped, warnings) = await ParticipateAsync(federation, data, s => { if (s.Count == 3) poisoned.Poison = null; });

        Assert.Equal(3, skipped.Count);
        Assert.All(skipped, s =>
        {
            Assert.Equal((1L, 0L, SkipReason.InvalidModel), (s.Round, s.ModelVersion, s.Reason));
            Assert.Contains("123", s.Detail);
            Assert.Contains("NaN", s.Detail);
            Assert.InRange(s.Retry, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(200)); // never a busy loop, never past MaxBackoff
        });
        Assert.Equal(3, warnings.Count(w => w.Contains("Round 1 skipped without an upload (InvalidModel", StringComparison.Ordinal)));
        // Then the good model: trained, uploaded once, and the federation finished.
        Assert.Equal(1L, Assert.Single(rounds).Round);
        Assert.Equal(1, federation.Server.Metrics.Accepted);
        Assert.Equal(1, Assert.Single(federation.Coordinator.Rounds).Updates);
    }

    [Fact]
    public async Task A_model_a_poisoned_update_blew_up_makes_training_diverge_and_the_round_is_skipped_and_reported()
    {
        var data = ReferenceTraining.Data();
        var (federation, poisoned) = await StartAsync(data);
        await using var _ = federation;
        // Finite, so it passes the download's check: the fold of a x1e6 update, as in the field.
        poisoned.Poison = w => { for (int i = 0; i < w.Length; i++) w[i] *= 1e6f; return w; };

        var (rounds, skipped, warnings) = await ParticipateAsync(federation, data, s => poisoned.Poison = null);

        var skip = Assert.Single(skipped);
        Assert.Equal((1L, SkipReason.TrainingDiverged), (skip.Round, skip.Reason));
        Assert.Contains("Training diverged", skip.Detail);
        Assert.Contains(warnings, w => w.Contains("Round 1 skipped without an upload (TrainingDiverged", StringComparison.Ordinal));
        Assert.Equal(1L, Assert.Single(rounds).Round);
        Assert.Equal(1, federation.Server.Metrics.Accepted);
    }

    [Fact]
    public async Task A_server_that_keeps_serving_a_bad_model_is_asked_again_and_again_until_cancelled_and_nothing_is_uploaded()
    {
        var data = ReferenceTraining.Data();
        var (federation, poisoned) = await StartAsync(data);
        await using var _ = federation;
        poisoned.Poison = w => { w[0] = float.PositiveInfinity; return w; };
        using var stop = new CancellationTokenSource();

        List<SkippedRound>? seen = null;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ParticipateAsync(federation, data, s => { seen = s; if (s.Count == 6) stop.Cancel(); }, stop.Token));

        Assert.NotNull(seen);
        Assert.Equal(6, seen.Count);
        Assert.All(seen, s => Assert.Equal(SkipReason.InvalidModel, s.Reason));
        Assert.All(seen, s => Assert.InRange(s.Retry, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(200)));
        Assert.Equal(0, federation.Server.Metrics.Accepted);
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post, and a flag set there could come too late).</summary>
    private sealed class Synchronous(Action<ParticipationProgress> report) : IProgress<ParticipationProgress>
    {
        public void Report(ParticipationProgress value) => report(value);
    }
}
