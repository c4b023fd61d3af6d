using Offload.Aggregator.Rounds;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Rounds;

public sealed class RoundTasksTests
{
    private static RoundTasks Create(int perRound = 2)
    {
        var tasks = new RoundTasks(new RoundOptions { MinClients = perRound, RoundDeadline = TimeSpan.FromMinutes(1) }, TimeProvider.System);
        tasks.Open(1, new Offload.Core.Federation.TrainingOptions());
        return tasks;
    }

    private static RoundTask Assign(RoundTasks tasks, string client) =>
        tasks.Offer(client, done: false, accepting: true, ModelVersion.Initial, TimeProvider.System.GetTimestamp()).Task
        ?? throw new InvalidOperationException($"{client} got no task.");

    [Fact]
    public void A_client_gets_one_task_per_round_until_the_round_is_full()
    {
        var tasks = Create();
        var a = Assign(tasks, "a");
        Assert.Equal(a, Assign(tasks, "a"));
        Assign(tasks, "b");
        Assert.Equal(TaskOfferKind.Wait, tasks.Offer("c", false, true, ModelVersion.Initial, 0).Kind);
        Assert.Equal(TaskOfferKind.Wait, tasks.Offer("a", false, accepting: false, ModelVersion.Initial, 0).Kind);
        Assert.Equal(TaskOfferKind.Done, tasks.Offer("a", done: true, true, ModelVersion.Initial, 0).Kind);
        tasks.AllowAnotherBatch();
        Assert.Equal(TaskOfferKind.Assigned, tasks.Offer("c", false, true, ModelVersion.Initial, 0).Kind);
        Assert.InRange(a.Deadline, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1));
    }

    [Fact]
    public void Checks_name_who_holds_a_task_whether_it_was_submitted_and_whether_its_round_is_open()
    {
        var tasks = Create();
        var a = Assign(tasks, "a");
        Assert.Equal(SubmissionCheck.NotHeld, tasks.Check("b", a.TaskId, false, true, out _));
        Assert.Equal(SubmissionCheck.NotHeld, tasks.Check("a", "", false, true, out _));
        Assert.Equal(SubmissionCheck.RoundClosed, tasks.Check("a", a.TaskId, false, accepting: false, out _));
        Assert.Equal(SubmissionCheck.Open, tasks.Check("a", a.TaskId, false, true, out var held));
        Assert.Equal(a, held);

        tasks.Reserve(a.TaskId);
        Assert.Equal(SubmissionCheck.AlreadySubmitted, tasks.Check("a", a.TaskId, false, true, out _));
        Assert.Equal(TaskOfferKind.Wait, tasks.Offer("a", false, true, ModelVersion.Initial, 0).Kind);
        Assert.True(tasks.AwaitsFolding("a", a.TaskId));
        Assert.False(tasks.Release("b", a.TaskId));
        Assert.True(tasks.Release("a", a.TaskId));
        Assert.False(tasks.AwaitsFolding("a", a.TaskId));

        tasks.Reserve(a.TaskId);
        tasks.MarkFolded(a.TaskId);
        Assert.False(tasks.AwaitsFolding("a", a.TaskId));
        Assert.False(tasks.Release("a", a.TaskId)); // A folded update stays counted.
    }

    [Fact]
    public void Tasks_of_the_round_before_are_closed_and_older_ones_forgotten()
    {
        var tasks = Create();
        var first = Assign(tasks, "a");
        tasks.Open(2, new Offload.Core.Federation.TrainingOptions());
        Assert.Equal(SubmissionCheck.RoundClosed, tasks.Check("a", first.TaskId, false, true, out _));
        var second = Assign(tasks, "a");
        Assert.NotEqual(first.TaskId, second.TaskId);
        Assert.Equal(2, second.Round);
        tasks.Open(3, new Offload.Core.Federation.TrainingOptions());
        Assert.Equal(SubmissionCheck.NotHeld, tasks.Check("a", first.TaskId, false, true, out _));
        Assert.Equal(SubmissionCheck.RoundClosed, tasks.Check("a", second.TaskId, false, true, out _));
    }
}
