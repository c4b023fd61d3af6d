using Offload.Aggregator.Events;
using Offload.Aggregator.Journal;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Rounds;

/// <summary>The in-process coordinator with a journal: what it acknowledged survives a crash, and a resumed federation ends where an uninterrupted one does.</summary>
public sealed class CoordinatorResumeTests : IDisposable
{
    private static readonly TensorLayout Layout = TensorLayout.Create([("w", new[] { 8 })]);
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-resume-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static RoundOptions Options(AggregationStrategy strategy) =>
        new() { MinClients = 2, Rounds = 3, RoundDeadline = TimeSpan.FromHours(1), Strategy = strategy };

    /// <summary>One process's coordinator, store, bus and journal; disposing it without closing anything is the crash.</summary>
    private sealed class Instance(SynchronousRoundCoordinator coordinator, InMemoryUpdateStore store, InProcessEventBus bus, IFederationJournal? journal) : IAsyncDisposable
    {
        public SynchronousRoundCoordinator Coordinator { get; } = coordinator;

        /// <summary>What the gateway does for an accepted update: reserve, store, journal, announce.</summary>
        public async Task SubmitAsync(string client, float value, long samples)
        {
            var offer = Coordinator.RequestTask(client);
            Assert.Equal(TaskOfferKind.Assigned, offer.Kind);
            var task = offer.Task!;
            Assert.Equal(SubmissionCheck.Open, Coordinator.TryReserve(task.ClientId, task.TaskId));
            var payload = IdentityCodec.Instance.Encode(Enumerable.Range(0, 8).Select(i => value * (i + 1)).ToArray(), Layout);
            var reference = UpdateReference.ForTask(task.ClientId, task.TaskId);
            var writer = await store.OpenWriteAsync(reference);
            await writer.WriteAsync(payload);
            await writer.CommitAsync();
            var arrived = new UpdateArrived(reference, task.ClientId, task.TaskId, task.Round, task.BaseVersion, samples, payload.Length, "test");
            if (journal is not null) await journal.RecordAcceptedAsync(new AcceptedUpdate(arrived, "key", null), payload);
            await bus.PublishAsync(arrived);
        }

        public async Task WaitForRoundsAsync(int count)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (Coordinator.Rounds.Count < count) await Task.Delay(5, timeout.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await Coordinator.DisposeAsync();
            await bus.DisposeAsync();
            journal?.Dispose();
        }
    }

    private async Task<Instance> StartAsync(AggregationStrategy strategy, bool durable)
    {
        var journal = durable ? SqliteFederationJournal.Open(_directory, "test") : null;
        var store = new InMemoryUpdateStore();
        var bus = new InProcessEventBus();
        var coordinator = new SynchronousRoundCoordinator(Layout, new float[8], Options(strategy), store, bus, journal: journal);
        await coordinator.StartAsync(journal?.Load() ?? FederationRecord.Empty);
        return new Instance(coordinator, store, bus, journal);
    }

    public static TheoryData<string> Strategies => new() { "fedavg", "fedavgm", "fedadam", "median" };

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task A_crash_mid_round_loses_no_acknowledged_update_and_folds_none_twice(string strategy)
    {
        // Uninterrupted: three rounds of two updates.
        float[] expected;
        await using (var reference = await StartAsync(StrategyCatalog.Parse(strategy), durable: false))
        {
            await reference.SubmitAsync("a", 1f, 10);
            await reference.SubmitAsync("b", 2f, 30);
            await reference.WaitForRoundsAsync(1);
            await reference.SubmitAsync("a", 0.5f, 10);
            await reference.SubmitAsync("b", -1f, 10);
            await reference.WaitForRoundsAsync(2);
            await reference.SubmitAsync("a", 0.25f, 20);
            await reference.SubmitAsync("b", 4f, 10);
            await reference.WaitForRoundsAsync(3);
            expected = reference.Coordinator.Model.Weights.ToArray();
        }

        // The same federation, crashed twice: after round 1's first update, and after round 2 closed plus one update.
        await using (var first = await StartAsync(StrategyCatalog.Parse(strategy), durable: true))
            await first.SubmitAsync("a", 1f, 10);
        await using (var second = await StartAsync(StrategyCatalog.Parse(strategy), durable: true))
        {
            Assert.Equal(1, second.Coordinator.Status.Round);
            await second.SubmitAsync("b", 2f, 30);
            await second.WaitForRoundsAsync(1);
            await second.SubmitAsync("a", 0.5f, 10);
            await second.SubmitAsync("b", -1f, 10);
            await second.WaitForRoundsAsync(2);
            await second.SubmitAsync("a", 0.25f, 20);
        }
        await using var third = await StartAsync(StrategyCatalog.Parse(strategy), durable: true);
        Assert.Equal(3, third.Coordinator.Status.Round);
        Assert.Equal(2, third.Coordinator.Rounds.Count);
        // Client a holds its round-3 update as acknowledged: it is not handed another task.
        Assert.NotEqual(TaskOfferKind.Assigned, third.Coordinator.RequestTask("a").Kind);
        await third.SubmitAsync("b", 4f, 10);
        await third.WaitForRoundsAsync(3);
        Assert.Equal(expected, third.Coordinator.Model.Weights.ToArray());
        await third.Coordinator.Completion;
    }

    [Fact]
    public async Task A_finished_federation_resumes_as_done()
    {
        await using (var run = await StartAsync(new FedAvg(), durable: true))
            for (int r = 1; r <= 3; r++)
            {
                await run.SubmitAsync("a", r, 1);
                await run.SubmitAsync("b", r, 1);
                await run.WaitForRoundsAsync(r);
            }
        await using var again = await StartAsync(new FedAvg(), durable: true);
        Assert.True(again.Coordinator.Completion.IsCompletedSuccessfully);
        Assert.Equal(TaskOfferKind.Done, again.Coordinator.RequestTask("a").Kind);
        Assert.Equal(3, again.Coordinator.Model.Version.Value);
    }

    [Fact]
    public async Task A_round_whose_sum_overflows_publishes_no_model_and_starts_over()
    {
        await using var run = await StartAsync(new FedAvg(), durable: true);
        // Finite values whose weighted sum passes float's range.
        await run.SubmitAsync("a", 3e38f / 8, 1);
        await run.SubmitAsync("b", 3e38f / 8, 1);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (run.Coordinator.DiscardedRounds == 0) await Task.Delay(5, timeout.Token);
        Assert.Equal(0, run.Coordinator.Model.Version.Value);
        Assert.Empty(run.Coordinator.Rounds);
        // The round takes updates again, from new tasks, and closes on finite ones.
        await run.SubmitAsync("c", 1f, 1);
        await run.SubmitAsync("d", 1f, 1);
        await run.WaitForRoundsAsync(1);
        Assert.All(run.Coordinator.Model.Weights.ToArray(), w => Assert.True(float.IsFinite(w)));
        Assert.Equal(1, run.Coordinator.Model.Version.Value);
    }
}
