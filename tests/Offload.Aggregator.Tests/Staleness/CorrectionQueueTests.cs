using Offload.Aggregator.Staleness;

namespace Offload.Aggregator.Tests.Staleness;

public class CorrectionQueueTests
{
    /// <summary>A corrector that blocks until released, recording the clients it saw.</summary>
    private sealed class GatedCorrector : IStalenessCorrector
    {
        public readonly SemaphoreSlim Release = new(0);
        public readonly SemaphoreSlim Started = new(0);
        public readonly List<int> Seen = [];

        public string Name => "gated";

        public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
        {
            Started.Release();
            Release.Wait(cancellationToken);
            if (update.ClientId < 0) throw new InvalidOperationException("bad client");
            lock (Seen) Seen.Add(update.ClientId);
            return StalenessCorrection.Weighted(update.Delta, 0.5);
        }
    }

    private static StaleUpdate Update(int client) => StaleUpdates.Of([1f, 2f], 0, 3, client: client);

    [Fact]
    public async Task Ingest_returns_at_once_while_there_is_room_then_the_full_queue_pushes_back()
    {
        var corrector = new GatedCorrector();
        using var queue = new CorrectionQueue(corrector, capacity: 2);

        var first = await queue.EnqueueAsync(Update(1));              // Taken by the worker, which now blocks.
        Assert.True(await corrector.Started.WaitAsync(TimeSpan.FromSeconds(10)));
        var second = await queue.EnqueueAsync(Update(2)).AsTask().WaitAsync(TimeSpan.FromSeconds(5)); // Room: returns at once.
        var third = await queue.EnqueueAsync(Update(3)).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3, queue.Pending);

        var fourth = queue.EnqueueAsync(Update(4)).AsTask();          // Full: waits.
        Assert.False(queue.TryEnqueue(Update(5), out var refused));   // And the non-waiting path refuses.
        Assert.True(refused.IsCanceled);
        await Task.Delay(100);
        Assert.False(fourth.IsCompleted);
        Assert.False(first.IsCompleted);

        corrector.Release.Release();                                  // One correction done: room for the waiting writer.
        var fourthCompletion = await fourth.WaitAsync(TimeSpan.FromSeconds(10));
        var result = await first.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0.5, result.Correction.Scale);
        Assert.True(result.CpuSeconds >= 0 && result.WallSeconds >= 0);

        corrector.Release.Release(3);
        await Task.WhenAll(second, third, fourthCompletion).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([1, 2, 3, 4], corrector.Seen);                   // One worker, arrival order.
        Assert.Equal(4, queue.Completed);
        Assert.Equal(0, queue.Pending);
    }

    [Fact]
    public async Task A_failing_correction_faults_its_own_task_and_the_worker_goes_on()
    {
        var corrector = new GatedCorrector();
        corrector.Release.Release(2);
        await using var queue = new CorrectionQueue(corrector, 4);
        var bad = await queue.EnqueueAsync(Update(-1));
        var good = await queue.EnqueueAsync(Update(7));
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0.5, (await good.WaitAsync(TimeSpan.FromSeconds(10))).Correction.Scale);
        Assert.Equal(1, queue.Faulted);
    }

    [Fact]
    public async Task Disposed_queue_refuses_updates()
    {
        var queue = new CorrectionQueue(new UnweightedCorrector(), 1);
        await queue.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.EnqueueAsync(Update(1)));
        Assert.False(queue.TryEnqueue(Update(1), out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CorrectionQueue(new UnweightedCorrector(), 0));
    }
}
