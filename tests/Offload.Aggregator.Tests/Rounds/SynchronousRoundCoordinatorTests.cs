using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Rounds;

public class SynchronousRoundCoordinatorTests : IAsyncLifetime
{
    private static readonly TensorLayout Layout = TensorLayout.Create([("w", new[] { 8 })]);
    private readonly InMemoryUpdateStore _store = new();
    private readonly InProcessEventBus _bus = new();
    private readonly ManualTimeProvider _clock = new();
    private SynchronousRoundCoordinator _coordinator = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _coordinator.DisposeAsync();
        await _bus.DisposeAsync();
    }

    private SynchronousRoundCoordinator Start(int minClients, int rounds = 2, int perRound = 0, int hierarchy = 0)
    {
        _coordinator = new SynchronousRoundCoordinator(Layout, new float[8],
            new RoundOptions { MinClients = minClients, ClientsPerRound = perRound, Rounds = rounds, RoundDeadline = TimeSpan.FromSeconds(60), HierarchyFanIn = hierarchy },
            _store, _bus, _clock);
        _coordinator.Start();
        return _coordinator;
    }

    /// <summary>What a gateway does for an accepted update: reserve, store, commit, announce.</summary>
    private async Task SubmitAsync(RoundTask task, float value, long samples, byte[]? payload = null)
    {
        Assert.Equal(SubmissionCheck.Open, _coordinator.TryReserve(task.ClientId, task.TaskId));
        var delta = Enumerable.Repeat(value, 8).ToArray();
        payload ??= IdentityCodec.Instance.Encode(delta, Layout);
        var reference = UpdateReference.ForTask(task.ClientId, task.TaskId);
        var writer = await _store.OpenWriteAsync(reference);
        await writer.WriteAsync(payload);
        await writer.CommitAsync();
        await _bus.PublishAsync(new UpdateArrived(reference, task.ClientId, task.TaskId, task.Round, task.BaseVersion, samples, payload.Length, "test"));
    }

    private static RoundTask Assigned(TaskOffer offer)
    {
        Assert.Equal(TaskOfferKind.Assigned, offer.Kind);
        return offer.Task!;
    }

    private async Task WaitForRoundsAsync(int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (_coordinator.Rounds.Count < count) await Task.Delay(5, timeout.Token);
    }

    [Fact]
    public async Task A_hierarchical_round_gives_the_flat_weighted_mean_at_the_quorum_and_at_the_deadline()
    {
        var c = Start(minClients: 5, rounds: 2, hierarchy: 2);
        var tasks = Enumerable.Range(0, 5).Select(i => Assigned(c.RequestTask($"c{i}"))).ToArray();
        for (int i = 0; i < 5; i++) await SubmitAsync(tasks[i], i + 1, samples: i + 1);
        await WaitForRoundsAsync(1);
        // (1*1 + 2*2 + 3*3 + 4*4 + 5*5) / 15 = 55 / 15, through 3 leaves, 2 middles and a top.
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(55f / 15f, w, 5));

        // Round 2 closes at its deadline with two of five updates: open aggregators emit what they hold.
        var late = Enumerable.Range(0, 2).Select(i => Assigned(c.RequestTask($"c{i}"))).ToArray();
        await SubmitAsync(late[0], 1f, samples: 1);
        await SubmitAsync(late[1], 3f, samples: 1);
        while (c.Status.Round < 2 || _store.Count > 0) await Task.Delay(5);
        _clock.Advance(TimeSpan.FromSeconds(61));
        await WaitForRoundsAsync(2);
        Assert.True(c.Rounds[1].ClosedByDeadline);
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(55f / 15f + 2f, w, 5));
    }

    [Fact]
    public async Task FedZip_downstream_serves_the_clients_view_with_its_change_and_aggregates_into_the_true_model()
    {
        _coordinator = new SynchronousRoundCoordinator(Layout, new float[8],
            new RoundOptions
            {
                MinClients = 1, Rounds = 2, RoundDeadline = TimeSpan.FromSeconds(60),
                Downstream = DownstreamMode.FedZip, DownstreamFedZip = new FedZipOptions { TopZ = 0.25, DenseThreshold = 0 },
            },
            _store, _bus, _clock);
        var c = _coordinator;
        c.Start();
        Assert.Same(c.Model, c.Broadcast);
        Assert.Null(c.Broadcast.Change);

        float[] first = [1, 2, 3, 4, 5, 6, 7, 8];
        await SubmitAsync(Assigned(c.RequestTask("a")), 0, 1, IdentityCodec.Instance.Encode(first, Layout));
        await WaitForRoundsAsync(1);
        Assert.Equal(first, c.Model.Weights.ToArray());
        var served = c.Broadcast;
        Assert.Equal(c.Model.Version, served.Version);
        Assert.Equal(new ModelVersion(0), served.Change!.BaseVersion);
        // Top 25%: only the two largest entries of the change reach the view.
        Assert.Equal(new[] { 0f, 0, 0, 0, 0, 0 }, served.Weights.ToArray()[..6]);
        Assert.NotEqual(0f, served.Weights.Span[7]);

        await SubmitAsync(Assigned(c.RequestTask("a")), 1f, 1);
        await WaitForRoundsAsync(2);
        // The update applies to the true global model, not to the view the client trained from.
        Assert.Equal(new float[] { 2, 3, 4, 5, 6, 7, 8, 9 }, c.Model.Weights.ToArray());
        Assert.Equal(new ModelVersion(1), c.Broadcast.Change!.BaseVersion);
    }

    [Fact]
    public async Task The_quorum_closes_a_round_with_the_weighted_mean_and_opens_the_next()
    {
        var c = Start(minClients: 2);
        var a = Assigned(c.RequestTask("a"));
        var b = Assigned(c.RequestTask("b"));
        Assert.Equal(TaskOfferKind.Wait, c.RequestTask("c").Kind); // Two tasks per round.
        Assert.Same(a, c.RequestTask("a").Task); // Asking again returns the task held.
        await SubmitAsync(a, 1f, samples: 1);
        Assert.Equal(TaskOfferKind.Wait, c.RequestTask("a").Kind); // Submitted: wait for the next round.
        await SubmitAsync(b, 4f, samples: 3);
        await WaitForRoundsAsync(1);

        var round = Assert.Single(c.Rounds);
        Assert.Equal((1L, 2, 4L, false), (round.Round, round.Updates, round.SampleCount, round.ClosedByDeadline));
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(3.25f, w)); // (1*1 + 3*4) / 4
        Assert.Equal(new ModelVersion(1), c.Model.Version);
        var next = Assigned(c.RequestTask("a"));
        Assert.Equal((2L, new ModelVersion(1)), (next.Round, next.BaseVersion));
        Assert.Equal(0, _store.Count); // Folded payloads are deleted.
    }

    [Fact]
    public async Task After_the_last_round_clients_are_told_done_and_completion_fires()
    {
        var c = Start(minClients: 1, rounds: 1);
        await SubmitAsync(Assigned(c.RequestTask("a")), 2f, 5);
        await c.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(TaskOfferKind.Done, c.RequestTask("a").Kind);
        Assert.True(c.Status.Done);
        Assert.Equal(1, c.Status.UpdatesFolded);
    }

    [Fact]
    public void Only_the_holder_may_submit_and_only_once()
    {
        var c = Start(minClients: 2);
        var a = Assigned(c.RequestTask("a"));
        Assert.Equal(SubmissionCheck.NotHeld, c.CheckSubmission("b", a.TaskId, out _));
        Assert.Equal(SubmissionCheck.NotHeld, c.CheckSubmission("a", "no-such-task", out _));
        Assert.Equal(SubmissionCheck.Open, c.TryReserve("a", a.TaskId));
        Assert.Equal(SubmissionCheck.AlreadySubmitted, c.TryReserve("a", a.TaskId));
        c.CancelReservation("a", a.TaskId);
        Assert.Equal(SubmissionCheck.Open, c.CheckSubmission("a", a.TaskId, out _));
    }

    [Fact]
    public async Task The_deadline_closes_a_round_that_has_an_update_and_refuses_later_ones()
    {
        var c = Start(minClients: 3);
        var a = Assigned(c.RequestTask("a"));
        var b = Assigned(c.RequestTask("b"));
        await SubmitAsync(a, 2f, 1);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            while (c.Status.RoundUpdates < 1) await Task.Delay(5, timeout.Token);
        _clock.Advance(TimeSpan.FromSeconds(61));
        await WaitForRoundsAsync(1);
        Assert.True(Assert.Single(c.Rounds).ClosedByDeadline);
        Assert.Equal(SubmissionCheck.RoundClosed, c.TryReserve("b", b.TaskId));
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(2f, w));
    }

    [Fact]
    public async Task A_round_with_no_update_at_its_deadline_closes_at_its_first()
    {
        var c = Start(minClients: 3);
        var a = Assigned(c.RequestTask("a"));
        _clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Empty(c.Rounds);
        await SubmitAsync(a, 5f, 1);
        await WaitForRoundsAsync(1);
        Assert.Equal(1, Assert.Single(c.Rounds).Updates);
    }

    [Fact]
    public async Task A_reserved_update_holds_the_round_open_until_it_is_folded()
    {
        var c = Start(minClients: 2);
        var a = Assigned(c.RequestTask("a"));
        var b = Assigned(c.RequestTask("b"));
        Assert.Equal(SubmissionCheck.Open, c.TryReserve("a", a.TaskId)); // Reserved, not yet announced.
        await SubmitAsync(b, 1f, 1);
        _clock.Advance(TimeSpan.FromSeconds(61)); // Deadline passes with a reservation pending.
        await Task.Delay(50);
        Assert.Empty(c.Rounds);
        c.CancelReservation("a", a.TaskId); // The gateway could not store it: the round closes without it.
        await WaitForRoundsAsync(1);
        Assert.Equal(1, Assert.Single(c.Rounds).Updates);
    }

    [Fact]
    public async Task An_undecodable_payload_is_rejected_not_folded()
    {
        var c = Start(minClients: 2);
        var a = Assigned(c.RequestTask("a"));
        var b = Assigned(c.RequestTask("b"));
        var corrupt = IdentityCodec.Instance.Encode(new float[8], Layout);
        corrupt[^1] ^= 0xFF; // Breaks the payload's CRC-32.
        await SubmitAsync(a, 0f, 1, corrupt);
        await SubmitAsync(b, 6f, 1);
        await WaitForRoundsAsync(1);
        var round = Assert.Single(c.Rounds);
        Assert.Equal((1, 1), (round.Updates, round.Rejected));
        Assert.All(c.Model.Weights.ToArray(), w => Assert.Equal(6f, w));
    }
}
