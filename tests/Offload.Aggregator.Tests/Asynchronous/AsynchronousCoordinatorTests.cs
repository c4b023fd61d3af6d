using Offload.Aggregator.Asynchronous;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Staleness;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Tests.Rounds;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Asynchronous;

public class AsynchronousCoordinatorTests : IAsyncLifetime
{
    private static readonly TensorLayout Layout = TensorLayout.Create([("w", new[] { 8 })]);
    private readonly InMemoryUpdateStore _store = new();
    private readonly InProcessEventBus _bus = new();
    private readonly ManualTimeProvider _clock = new();
    private AsynchronousCoordinator? _coordinator;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_coordinator is not null) await _coordinator.DisposeAsync();
        await _bus.DisposeAsync();
    }

    private AsynchronousCoordinator Start(int k, int versions, IStalenessCorrector? corrector = null, int maxStaleness = 8, int concurrency = 0, int queue = 4, int correctFrom = 1)
    {
        _coordinator = new AsynchronousCoordinator(Layout, new float[8],
            new AsynchronousOptions
            {
                BufferSize = k,
                Versions = versions,
                MaxStaleness = maxStaleness,
                Concurrency = concurrency,
                CorrectionQueueCapacity = queue,
                CorrectFrom = correctFrom,
                TaskLifetime = TimeSpan.FromSeconds(10),
            },
            corrector ?? new PolynomialStalenessWeighting(0.5), new PolynomialStalenessWeighting(0.5), _store, _bus, _clock);
        _coordinator.Start();
        return _coordinator;
    }

    private static RoundTask Assigned(TaskOffer offer)
    {
        Assert.Equal(TaskOfferKind.Assigned, offer.Kind);
        return offer.Task!;
    }

    /// <summary>What a gateway does for an accepted update: reserve, store, commit, announce; returns the reservation's answer (nothing is stored unless Open).</summary>
    private async Task<SubmissionCheck> SubmitAsync(RoundTask task, float value, long samples = 1)
    {
        var check = _coordinator!.TryReserve(task.ClientId, task.TaskId);
        if (check != SubmissionCheck.Open) return check;
        await _bus.PublishAsync(await StoreAsync(task, value, samples));
        return check;
    }

    private async Task<UpdateArrived> StoreAsync(RoundTask task, float value, long samples)
    {
        var payload = IdentityCodec.Instance.Encode(Enumerable.Repeat(value, 8).ToArray(), Layout);
        var reference = UpdateReference.ForTask(task.ClientId, task.TaskId);
        var writer = await _store.OpenWriteAsync(reference);
        await writer.WriteAsync(payload);
        await writer.CommitAsync();
        return new UpdateArrived(reference, task.ClientId, task.TaskId, task.Round, task.BaseVersion, samples, payload.Length, "test");
    }

    private async Task WaitForVersionAsync(long version)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (_coordinator!.Model.Version.Value < version) await Task.Delay(5, timeout.Token);
    }

    private async Task WaitForArrivalsAsync(long arrivals)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (_coordinator!.Statistics.Outcomes.Values.Sum() < arrivals) await Task.Delay(5, timeout.Token);
    }

    private static long Count(AsynchronousStatistics s, StalenessOutcome outcome) => s.Outcomes.GetValueOrDefault(outcome);

    [Fact]
    public async Task Every_version_takes_exactly_K_arrivals_and_the_federation_takes_no_more_updates_than_it_needs()
    {
        var c = Start(k: 2, versions: 2);
        var first = new[] { Assigned(c.RequestTask("a")), Assigned(c.RequestTask("b")) };
        var spare = Assigned(c.RequestTask("s"));
        Assert.All(first, t => Assert.Equal(ModelVersion.Initial, t.BaseVersion));
        Assert.Equal(1, first[0].Round); // A task from version v is numbered v + 1, as in rounds: devices seed their training alike.

        await SubmitAsync(first[0], 1);
        await WaitForArrivalsAsync(1);
        Assert.Equal(0, c.Model.Version.Value); // One arrival of two: no new version yet.
        await SubmitAsync(first[1], 3);
        await WaitForVersionAsync(1);
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(2f, w, 5)); // FedAvg mean of 1 and 3, server step 1.

        // The device asks again and trains from the newest version; the stale spare still counts.
        var second = Assigned(c.RequestTask("a"));
        Assert.Equal(new ModelVersion(1), second.BaseVersion);
        await SubmitAsync(second, 1);
        await SubmitAsync(spare, 1);
        await WaitForVersionAsync(2);
        await c.Completion.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal([2, 2], c.Rounds.Select(r => r.Updates));
        Assert.Equal(TaskOfferKind.Done, c.RequestTask("b").Kind);
        var late = first[1] with { TaskId = "unknown" };
        Assert.Equal(SubmissionCheck.NotHeld, c.TryReserve(late.ClientId, late.TaskId));
        Assert.Equal(0, _store.Count);
    }

    [Fact]
    public async Task Reservations_stop_at_what_the_last_version_needs_so_no_acknowledged_update_is_left_over()
    {
        var c = Start(k: 2, versions: 1);
        var tasks = new[] { "a", "b", "c" }.Select(id => Assigned(c.RequestTask(id))).ToArray();
        Assert.Equal(SubmissionCheck.Open, c.TryReserve(tasks[0].ClientId, tasks[0].TaskId));
        Assert.Equal(SubmissionCheck.Open, c.TryReserve(tasks[1].ClientId, tasks[1].TaskId));
        Assert.Equal(SubmissionCheck.RoundClosed, c.TryReserve(tasks[2].ClientId, tasks[2].TaskId));
        Assert.Equal(TaskOfferKind.Wait, c.RequestTask("d").Kind);
        c.CancelReservation(tasks[1].ClientId, tasks[1].TaskId); // The gateway could not store it: the place is free again.
        Assert.Equal(SubmissionCheck.Open, c.TryReserve(tasks[2].ClientId, tasks[2].TaskId));
    }

    [Fact]
    public async Task A_stale_update_is_folded_with_the_weight_its_staleness_calls_for()
    {
        var c = Start(k: 1, versions: 2); // Corrector: FedAsync polynomial, a = 0.5.
        var stale = Assigned(c.RequestTask("slow"));
        await SubmitAsync(Assigned(c.RequestTask("fast")), 1);
        await WaitForVersionAsync(1);
        await SubmitAsync(stale, 1); // From v0 into v1: staleness 1, weight 2^-0.5.
        await WaitForVersionAsync(2);

        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(1f + 1f / MathF.Sqrt(2), w, 5));
        var s = c.Statistics;
        Assert.Equal((1, 1), (Count(s, StalenessOutcome.Fresh), Count(s, StalenessOutcome.Weighted)));
        Assert.Equal(1, s.MaxStaleness);
        var slow = Assert.Single(s.ByClient, d => d.ClientId == "slow");
        Assert.Equal((1, 1, 1), (slow.Updates, slow.Stale, slow.MaxStaleness));
    }

    [Fact]
    public async Task An_update_older_than_the_window_goes_to_the_fallback_and_is_never_folded_as_fresh()
    {
        // The corrector would fold it unchanged; the window (1 past version) no longer has its base.
        var c = Start(k: 1, versions: 4, corrector: new UnweightedCorrector(), maxStaleness: 1);
        var stale = Assigned(c.RequestTask("slow"));
        for (int v = 1; v <= 3; v++)
        {
            await SubmitAsync(Assigned(c.RequestTask("fast")), 1);
            await WaitForVersionAsync(v);
        }
        Assert.Equal(new float[8], c.ServedModel(ModelVersion.Initial)!.Weights.ToArray()); // A task's version stays downloadable a while.
        await SubmitAsync(stale, 1); // Staleness 3 > 1: the fall-back's weight 4^-0.5 = 0.5.
        await WaitForVersionAsync(4);
        Assert.Null(c.ServedModel(ModelVersion.Initial)); // Only the last few versions are.
        Assert.Null(c.ServedModel(new ModelVersion(-1)));
        Assert.Null(c.ServedModel(new ModelVersion(long.MaxValue)));

        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(3.5f, w, 5));
        var s = c.Statistics;
        Assert.Equal(1, Count(s, StalenessOutcome.BeyondWindow));
        Assert.Equal(1, Assert.Single(s.ByClient, d => d.ClientId == "slow").FellBack);
        Assert.Equal(2, s.HistoryWindow);
    }

    [Fact]
    public async Task A_corrected_update_replaces_the_stale_one_and_a_failing_or_diverging_corrector_falls_back()
    {
        var answers = new Queue<Func<StaleUpdate, StalenessCorrection>>();
        answers.Enqueue(u => StalenessCorrection.Corrected(Enumerable.Repeat(10f, 8).ToArray(), 0.1));
        answers.Enqueue(_ => throw new InvalidOperationException("inversion blew up"));
        answers.Enqueue(_ => StalenessCorrection.Corrected(Enumerable.Repeat(float.NaN, 8).ToArray()));
        var c = Start(k: 1, versions: 4, corrector: new ScriptedCorrector(answers));
        var stale = new[] { "s1", "s2", "s3" }.Select(id => Assigned(c.RequestTask(id))).ToArray();
        await SubmitAsync(Assigned(c.RequestTask("fast")), 1);
        await WaitForVersionAsync(1);

        await SubmitAsync(stale[0], 1);
        await WaitForVersionAsync(2);
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(11f, w, 5)); // The corrector's update, at full weight.

        await SubmitAsync(stale[1], 1); // Staleness 2: the fall-back weighs the update as it came, 3^-0.5.
        await WaitForVersionAsync(3);
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(11f + 1f / MathF.Sqrt(3), w, 4));

        await SubmitAsync(stale[2], 1); // A NaN correction is not folded: the update as it came, 4^-0.5.
        await WaitForVersionAsync(4);
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(11f + 1f / MathF.Sqrt(3) + 0.5f, w, 4));
        var s = c.Statistics;
        Assert.Equal((1, 2), (Count(s, StalenessOutcome.Corrected), Count(s, StalenessOutcome.FellBack)));
        Assert.Equal(2, s.CorrectionCpuSeconds.Count); // The one that threw has no cost record.
    }

    [Fact]
    public async Task Updates_younger_than_correct_from_are_weighted_by_the_fallback_without_the_corrector()
    {
        var answers = new Queue<Func<StaleUpdate, StalenessCorrection>>();
        answers.Enqueue(_ => StalenessCorrection.Corrected(Enumerable.Repeat(10f, 8).ToArray()));
        var c = Start(k: 1, versions: 4, corrector: new ScriptedCorrector(answers), correctFrom: 2);
        var young = Assigned(c.RequestTask("young"));
        await SubmitAsync(Assigned(c.RequestTask("fast")), 1);
        await WaitForVersionAsync(1);
        var old = Assigned(c.RequestTask("old")); // From v1.
        await SubmitAsync(young, 1); // Staleness 1 < 2: the fall-back's weight 2^-0.5, the corrector not asked.
        await WaitForVersionAsync(2);
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(1f + 1f / MathF.Sqrt(2), w, 5));
        await SubmitAsync(Assigned(c.RequestTask("fast")), 1);
        await WaitForVersionAsync(3);
        await SubmitAsync(old, 1); // Staleness 2: corrected.
        await WaitForVersionAsync(4);
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(2f + 1f / MathF.Sqrt(2) + 10f, w, 4));
        var s = c.Statistics;
        Assert.Equal((1, 1), (Count(s, StalenessOutcome.Weighted), Count(s, StalenessOutcome.Corrected)));
        Assert.Single(s.CorrectionCpuSeconds);
        Assert.Empty(answers);
    }

    [Fact]
    public async Task A_duplicate_delivery_counts_once()
    {
        var c = Start(k: 2, versions: 1);
        var a = Assigned(c.RequestTask("a"));
        var b = Assigned(c.RequestTask("b"));
        Assert.Equal(SubmissionCheck.Open, c.TryReserve(a.ClientId, a.TaskId));
        var arrived = await StoreAsync(a, 1, 1);
        await _bus.PublishAsync(arrived);
        await _bus.PublishAsync(arrived); // At-least-once delivery.
        await WaitForArrivalsAsync(1);
        Assert.Equal(0, c.Model.Version.Value);
        await SubmitAsync(b, 3);
        await WaitForVersionAsync(1);

        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(2f, w, 5));
        Assert.Equal(1, c.Statistics.Ignored);
        Assert.Equal(SubmissionCheck.AlreadySubmitted, c.CheckSubmission(a.ClientId, a.TaskId, out _));
    }

    [Fact]
    public async Task A_full_correction_queue_pushes_stale_uploads_back_and_loses_nothing_acknowledged()
    {
        using var corrector = new HeldCorrector();
        var c = Start(k: 1, versions: 3, corrector: corrector, queue: 1);
        var stale = new[] { "s1", "s2" }.Select(id => Assigned(c.RequestTask(id))).ToArray();
        await SubmitAsync(Assigned(c.RequestTask("fast")), 1);
        await WaitForVersionAsync(1);

        Assert.Equal(SubmissionCheck.Open, await SubmitAsync(stale[0], 1));
        await corrector.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30)); // s1 is being corrected, and held there.
        Assert.Equal(SubmissionCheck.Busy, await SubmitAsync(stale[1], 1)); // Pushed back: nothing reserved, nothing stored.
        Assert.Equal(SubmissionCheck.Busy, c.CheckSubmission(stale[1].ClientId, stale[1].TaskId, out _)); // The gateway asks at the header: refused before it streams.
        Assert.Equal(TaskOfferKind.Assigned, c.RequestTask("fast").Kind); // Ingest of fresh work goes on meanwhile.

        corrector.Release.Set();
        await WaitForVersionAsync(2);
        Assert.Equal(SubmissionCheck.Open, await SubmitAsync(stale[1], 1)); // The device's retry.
        await WaitForVersionAsync(3);
        Assert.Equal(2, c.Statistics.ByClient.Count(d => d.Stale == 1));
        Assert.Equal(0, _store.Count);
    }

    [Fact]
    public void Concurrency_bounds_the_tasks_out_and_a_task_past_its_lifetime_frees_its_place()
    {
        var c = Start(k: 4, versions: 1, concurrency: 2);
        var a = Assigned(c.RequestTask("a"));
        var b = Assigned(c.RequestTask("b"));
        Assert.Equal(TaskOfferKind.Wait, c.RequestTask("c").Kind);
        Assert.Equal(a.TaskId, Assigned(c.RequestTask("a")).TaskId); // Same model, same task.
        Assert.Equal(SubmissionCheck.Open, c.TryReserve(a.ClientId, a.TaskId));
        var third = Assigned(c.RequestTask("c")); // a's update is in: its place is free.
        Assert.Equal(TaskOfferKind.Wait, c.RequestTask("d").Kind);

        _clock.Advance(TimeSpan.FromSeconds(11)); // Past the tasks' 10 s lifetime.
        Assert.Equal(SubmissionCheck.RoundClosed, c.CheckSubmission(b.ClientId, b.TaskId, out _));
        Assert.Equal(TaskOfferKind.Assigned, c.RequestTask("d").Kind); // b's and c's tasks expired: their places are free.
        Assert.Equal(TaskOfferKind.Assigned, c.RequestTask("e").Kind);
        Assert.Equal(SubmissionCheck.NotHeld, c.CheckSubmission(third.ClientId, third.TaskId, out _)); // Forgotten.
    }

    [Fact]
    public async Task Options_out_of_range_are_refused_with_their_name()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new AsynchronousOptions { BufferSize = 0 }.Validate());
        Assert.Equal("BufferSize", e.ParamName);
        Assert.Equal("MaxStaleness", Assert.Throws<ArgumentOutOfRangeException>(() => new AsynchronousOptions { MaxStaleness = -1 }.Validate()).ParamName);
        Assert.Equal(3, new AsynchronousOptions { MaxStaleness = 16, MaxHistoryBytes = 3 * 8 * sizeof(float) }.WindowFor(Layout));
        var c = Start(k: 1, versions: 1);
        Assert.Throws<InvalidOperationException>(() => c.Start());
        await c.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => c.RequestTask("a"));
    }

    /// <summary>Answers from a script, one answer per stale update.</summary>
    private sealed class ScriptedCorrector(Queue<Func<StaleUpdate, StalenessCorrection>> answers) : IStalenessCorrector
    {
        public string Name => "scripted";

        public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default) => answers.Dequeue()(update);
    }

    /// <summary>Holds every correction until released: a corrector slower than the arrivals.</summary>
    private sealed class HeldCorrector : IStalenessCorrector, IDisposable
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ManualResetEventSlim Release { get; } = new();

        public string Name => "held";

        public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
        {
            Entered.TrySetResult();
            Release.Wait(cancellationToken);
            return StalenessCorrection.Unchanged(update.Delta);
        }

        public void Dispose() => Release.Dispose();
    }
}
