using Offload.Cli.Simulation;

namespace Offload.Cli.Tests.Simulation;

public class OrderedCommitTests
{
    [Fact]
    public void Steps_run_in_slot_order_whatever_order_the_workers_arrive_in()
    {
        var commit = new OrderedCommit();
        var order = new List<int>();
        // One thread per slot, started highest first, as workers finishing out of order would be.
        var threads = Enumerable.Range(0, 20).Reverse()
            .Select(slot => new Thread(() => commit.InTurn(slot, () => order.Add(slot))))
            .ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromMinutes(1)), "a worker never got its turn");
        Assert.Equal(Enumerable.Range(0, 20), order);
    }

    [Fact]
    public void A_failure_releases_waiting_workers_instead_of_hanging_them()
    {
        var commit = new OrderedCommit();
        var waiter = Task.Run(() => commit.InTurn(1, () => { }));
        commit.Fail(); // Slot 0's worker died before its turn.
        var error = Assert.Throws<AggregateException>(() => waiter.Wait(TimeSpan.FromMinutes(1)));
        Assert.IsType<OperationCanceledException>(error.InnerException);
    }
}
