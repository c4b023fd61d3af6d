using Dapr.Client;
using Microsoft.Extensions.DependencyInjection;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Core.Model;
using Offload.Functions.Aggregation;
using Offload.Functions.Gateway;
using Offload.Functions.Journal;
using Offload.Functions.Names;
using Offload.Functions.Rounds;
using Offload.Functions.Tests.Aggregation;

namespace Offload.Functions.Tests.Gateway;

/// <summary>The gateway's rounds in the Dapr deployment, against the functions app's real RoundActor through the sidecar stand-in.</summary>
public sealed class DaprRoundCoordinatorTests
{
    private static readonly RoundOptions Options = new() { MinClients = 2, Rounds = 2, RoundDeadline = TimeSpan.FromHours(1) };

    private static DaprRoundCoordinator Create(FunctionsApp app, IFederationJournal? journal = null) =>
        new(RoundScenario.Layout, RoundScenario.Initial, Options, app.Services.GetRequiredService<RoundActors>(), app.Services.GetRequiredService<IUpdateStore>(), journal: journal);

    private static async Task<RoundStatus> WaitOpenAsync(FunctionsApp app, long round)
    {
        var actors = app.Services.GetRequiredService<RoundActors>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var status = await actors.GetStatusAsync(round, timeout.Token);
            if (status.Known) return status;
            await Task.Delay(20, timeout.Token);
        }
    }

    [Fact]
    public async Task Start_stores_the_initial_model_and_opens_round_one_on_its_actor()
    {
        await using var app = await FunctionsApp.StartAsync();
        await using var coordinator = Create(app);
        Assert.Throws<InvalidOperationException>(() => coordinator.RequestTask("c0"));
        await coordinator.StartAsync();

        var status = await WaitOpenAsync(app, 1);
        Assert.Equal((2, false), (status.ExpectedUpdates, status.Last));
        var stored = await app.Services.GetRequiredService<IUpdateStore>().OpenReadAsync(AggregatorStep.ModelReference(0));
        Assert.Equal(RoundScenario.Layout.TotalLength * sizeof(float), stored.Length);
        await stored.DisposeAsync();
    }

    [Fact]
    public async Task Tasks_and_reservations_follow_the_in_process_rules()
    {
        await using var app = await FunctionsApp.StartAsync();
        await using var coordinator = Create(app);
        await coordinator.StartAsync();

        var a = coordinator.RequestTask("a");
        var b = coordinator.RequestTask("b");
        Assert.Equal(TaskOfferKind.Assigned, a.Kind);
        Assert.Equal(a.Task!.TaskId, coordinator.RequestTask("a").Task!.TaskId); // The same task again until submitted.
        Assert.Equal(TaskOfferKind.Wait, coordinator.RequestTask("c").Kind); // Two tasks per round.

        Assert.Equal(SubmissionCheck.NotHeld, coordinator.CheckSubmission("b", a.Task.TaskId, out _));
        Assert.Equal(SubmissionCheck.Open, coordinator.TryReserve("a", a.Task.TaskId));
        Assert.Equal(SubmissionCheck.AlreadySubmitted, coordinator.TryReserve("a", a.Task.TaskId));
        coordinator.CancelReservation("a", a.Task.TaskId);
        Assert.Equal(SubmissionCheck.Open, coordinator.TryReserve("a", a.Task.TaskId));
        Assert.Equal(SubmissionCheck.Open, coordinator.TryReserve("b", b.Task!.TaskId));
        // The quorum is reserved: the round takes no more until the functions publish its model.
        Assert.Equal(TaskOfferKind.Wait, coordinator.RequestTask("c").Kind);
        Assert.Equal(2, coordinator.Status.RoundUpdates);
    }

    [Fact]
    public async Task A_published_model_opens_the_next_round_and_stale_or_malformed_ones_change_nothing()
    {
        await using var app = await FunctionsApp.StartAsync();
        await using var coordinator = Create(app);
        await coordinator.StartAsync();
        var reference = new UpdateReference("model/v1/x");

        await coordinator.OnModelPublishedAsync(new ModelPublished(reference, 2, new ModelVersion(1), 2), new float[4], CancellationToken.None);
        Assert.Equal(0, coordinator.Model.Version.Value); // Not the current round.
        await Assert.ThrowsAsync<InvalidDataException>(async () =>
            await coordinator.OnModelPublishedAsync(new ModelPublished(reference, 1, new ModelVersion(1), 2), new float[3], CancellationToken.None));
        Assert.Equal(0, coordinator.Model.Version.Value);

        float[] next = [5, 6, 7, 8];
        await coordinator.OnModelPublishedAsync(new ModelPublished(reference, 1, new ModelVersion(1), 2), next, CancellationToken.None);
        await coordinator.OnModelPublishedAsync(new ModelPublished(reference, 1, new ModelVersion(1), 2), new float[4], CancellationToken.None); // Redelivered.
        Assert.Equal(1, coordinator.Model.Version.Value);
        Assert.Equal(next, coordinator.Model.Weights.ToArray());
        // The model round 1 trained from is no longer needed by anyone: the store does not keep it.
        Assert.Equal(-1, await app.Services.GetRequiredService<IUpdateStore>().GetLengthAsync(AggregatorStep.ModelReference(0)));
        Assert.Equal(2, Assert.Single(coordinator.Rounds).Updates);

        var second = await WaitOpenAsync(app, 2);
        Assert.True(second.Last);
        Assert.False(coordinator.Completion.IsCompleted);
        await coordinator.OnModelPublishedAsync(new ModelPublished(new UpdateReference("model/v2/y"), 2, new ModelVersion(2), 1), next, CancellationToken.None);
        await coordinator.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(TaskOfferKind.Done, coordinator.RequestTask("a").Kind);
    }

    [Fact]
    public async Task A_restarted_gateway_resumes_after_the_newest_published_round()
    {
        await using var app = await FunctionsApp.StartAsync();
        var first = Create(app);
        await first.StartAsync();
        var round = new RoundScenario(app);
        foreach (var (client, delta) in new[] { ("c0", new float[] { 1, 1, 1, 1 }), ("c1", new float[] { 3, 3, 3, 3 }) })
            await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, await round.StoreUpdateAsync(client, delta, 1));
        await app.Sidecar.DeliverPendingAsync();
        await first.DisposeAsync(); // The gateway goes away before ModelPublished reaches it.

        await using var restarted = Create(app);
        await restarted.StartAsync();
        Assert.Equal(1, restarted.Model.Version.Value);
        Assert.Equal(RoundScenario.Initial.Select(w => w + 2f), restarted.Model.Weights.ToArray());
        Assert.True((await WaitOpenAsync(app, 2)).Last);
        var task = restarted.RequestTask("c0").Task!;
        Assert.Equal((2L, 1L), (task.Round, task.BaseVersion.Value));
    }

    [Fact]
    public async Task A_restarted_gateway_with_its_journal_still_holds_its_tasks_and_knows_what_it_acknowledged()
    {
        await using var app = await FunctionsApp.StartAsync();
        var client = app.Services.GetRequiredService<DaprClient>();
        RoundTask held, acknowledged;
        using (var journal = new DaprFederationJournal(client))
        {
            var first = Create(app, journal);
            await first.StartAsync();
            held = first.RequestTask("c0").Task!;
            acknowledged = first.RequestTask("c1").Task!;
            await journal.FlushAsync();
            Assert.Equal(SubmissionCheck.Open, first.TryReserve("c1", acknowledged.TaskId));
            var arrived = new UpdateArrived(UpdateReference.ForTask("c1", acknowledged.TaskId), "c1", acknowledged.TaskId, 1, ModelVersion.Initial, 5, 10, "node");
            await journal.RecordAcceptedAsync(new AcceptedUpdate(arrived, "key-1", new Aggregator.Strategies.ClientEvaluation(5, 0.5, 0.5)), ReadOnlyMemory<byte>.Empty);
            await first.DisposeAsync(); // The gateway is gone; only what the journal saved remains.
        }

        // Without its journal a restarted gateway knows neither: the device holding c0's task would be told "not held".
        await using (var forgetful = Create(app))
        {
            await forgetful.StartAsync();
            Assert.Equal(SubmissionCheck.NotHeld, forgetful.CheckSubmission("c0", held.TaskId, out _));
        }

        using var again = new DaprFederationJournal(client);
        await using var restarted = Create(app, again);
        FederationRecord? told = null;
        var record = await restarted.StartAsync(resumed: r => told = r);
        Assert.Same(record, told);
        Assert.True(restarted.Ready);
        Assert.Equal(SubmissionCheck.Open, restarted.CheckSubmission("c0", held.TaskId, out var task));
        // The journal keeps deadlines to the millisecond.
        Assert.Equal(held with { Deadline = DateTimeOffset.FromUnixTimeMilliseconds(held.Deadline.ToUnixTimeMilliseconds()) }, task);
        Assert.Equal(SubmissionCheck.AlreadySubmitted, restarted.CheckSubmission("c1", acknowledged.TaskId, out _));
        Assert.Equal("key-1", Assert.Single(record.Accepted).IdempotencyKey);
        Assert.Equal(1, restarted.Status.RoundUpdates);
        // Each client holds its task again: no second task in the round.
        Assert.Equal(held.TaskId, restarted.RequestTask("c0").Task!.TaskId);
    }

    [Fact]
    public async Task A_restarted_gateway_resumes_a_round_in_progress_and_one_after_the_last_round_is_done()
    {
        await using var app = await FunctionsApp.StartAsync();
        var first = Create(app);
        await first.StartAsync();
        var round = new RoundScenario(app);
        await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1));
        await first.DisposeAsync();

        await using (var restarted = Create(app))
        {
            await restarted.StartAsync();
            Assert.Equal((1L, 0L), (restarted.Status.Round, restarted.Model.Version.Value));
            Assert.Equal(1, restarted.RequestTask("c1").Task!.Round);
        }

        // The round completes without the gateway, then round 2 (the last) is opened and published too.
        await round.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, await round.StoreUpdateAsync("c1", [3, 3, 3, 3], 1));
        await app.Sidecar.DeliverPendingAsync();
        await using (var second = Create(app))
        {
            await second.StartAsync();
            Assert.Equal(2, (await WaitOpenAsync(app, 2)).Round);
        }
        var last = new RoundScenario(app, round: 2);
        foreach (var client in new[] { "c0", "c1" })
            await last.PostCloudEventAsync(DaprNames.UpdateArrivedRoute, DaprNames.UpdateArrivedTopic, await last.StoreUpdateAsync(client, [1, 1, 1, 1], 1));
        await app.Sidecar.DeliverPendingAsync();

        await using var done = Create(app);
        await done.StartAsync();
        await done.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2, done.Model.Version.Value);
        Assert.Equal(TaskOfferKind.Done, done.RequestTask("c0").Kind);
    }

    [Fact]
    public async Task A_gateway_for_another_model_refuses_to_resume_the_stored_federation()
    {
        await using var app = await FunctionsApp.StartAsync();
        await using (var first = Create(app)) await first.StartAsync();
        var other = TensorLayout.Create([("w", [3])]);
        await using var mismatched = new DaprRoundCoordinator(other, new float[3], Options,
            app.Services.GetRequiredService<RoundActors>(), app.Services.GetRequiredService<IUpdateStore>());
        await Assert.ThrowsAsync<InvalidDataException>(() => mismatched.StartAsync());
    }
}
