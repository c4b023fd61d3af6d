using Offload.Cli.Simulation.Asynchronous;
using Offload.Core.Model;

namespace Offload.Cli.Tests.Simulation.Asynchronous;

public class FixedDelayScheduleTests
{
    [Fact]
    public void Delayed_clients_always_train_from_the_model_tau_versions_old()
    {
        var delayed = Enumerable.Range(0, 20).Select(c => c % 4 == 0).ToArray();
        var schedule = new FixedDelaySchedule(20, 5, delayed, delay: 3, seed: 2);
        var current = ModelVersion.Initial;
        for (int v = 0; v < 10; v++)
        {
            var buffer = schedule.NextBuffer(current);
            Assert.Equal(5, buffer.Count);
            Assert.Equal(buffer.Select(a => a.Client).Order(), buffer.Select(a => a.Client));
            foreach (var a in buffer)
            {
                long expected = delayed[a.Client] ? Math.Min(3, current.Value) : 0;
                Assert.Equal(expected, a.BaseVersion.StalenessAt(current));
            }
            current = current.Next();
        }
    }

    [Fact]
    public void Selection_is_the_same_for_every_strategy_with_the_same_seed()
    {
        var flags = new bool[30];
        var a = new FixedDelaySchedule(30, 6, flags, 10, 4);
        var b = new FixedDelaySchedule(30, 6, flags, 0, 4);   // Another delay: same clients.
        for (int r = 1; r <= 5; r++) Assert.Equal(a.Select(r), b.Select(r));
        Assert.NotEqual(a.Select(1), new FixedDelaySchedule(30, 6, flags, 10, 5).Select(1));
        Assert.Throws<ArgumentException>(() => new FixedDelaySchedule(30, 6, new bool[29], 1, 0));
    }
}
