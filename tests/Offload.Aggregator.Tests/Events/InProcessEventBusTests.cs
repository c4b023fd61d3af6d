using System.Threading.Channels;
using Offload.Aggregator.Events;

namespace Offload.Aggregator.Tests.Events;

public class InProcessEventBusTests
{
    private sealed record Ping(int N);

    private sealed record Other(string Text);

    [Fact]
    public async Task Each_subscriber_gets_every_event_of_its_type_in_order()
    {
        await using var bus = new InProcessEventBus();
        var a = Channel.CreateUnbounded<int>();
        var b = Channel.CreateUnbounded<int>();
        var others = 0;
        await using var first = bus.Subscribe<Ping>((p, _) => a.Writer.WriteAsync(p.N));
        await using var second = bus.Subscribe<Ping>((p, _) => b.Writer.WriteAsync(p.N));
        await using var third = bus.Subscribe<Other>((_, _) => { Interlocked.Increment(ref others); return ValueTask.CompletedTask; });
        for (int i = 0; i < 100; i++) await bus.PublishAsync(new Ping(i));
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(i, await a.Reader.ReadAsync());
            Assert.Equal(i, await b.Reader.ReadAsync());
        }
        Assert.Equal(0, others);
    }

    [Fact]
    public async Task A_handler_runs_one_event_at_a_time_and_a_throwing_handler_does_not_stop_delivery()
    {
        await using var bus = new InProcessEventBus();
        int running = 0, overlap = 0, handled = 0;
        var done = new TaskCompletionSource();
        await using var subscription = bus.Subscribe<Ping>(async (p, _) =>
        {
            if (Interlocked.Increment(ref running) > 1) Interlocked.Increment(ref overlap);
            await Task.Yield();
            Interlocked.Decrement(ref running);
            if (Interlocked.Increment(ref handled) == 50) done.SetResult();
            if (p.N % 10 == 0) throw new InvalidOperationException("handler failure");
        });
        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() => bus.PublishAsync(new Ping(i)).AsTask())));
        await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, overlap);
    }

    [Fact]
    public async Task Disposing_a_subscription_drains_what_was_queued_then_stops()
    {
        var bus = new InProcessEventBus();
        int handled = 0;
        var subscription = bus.Subscribe<Ping>((_, _) => { Interlocked.Increment(ref handled); return ValueTask.CompletedTask; });
        for (int i = 0; i < 20; i++) await bus.PublishAsync(new Ping(i));
        await subscription.DisposeAsync();
        Assert.Equal(20, handled);
        await bus.PublishAsync(new Ping(99));
        Assert.Equal(20, handled);
        await bus.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await bus.PublishAsync(new Ping(1)));
    }
}
