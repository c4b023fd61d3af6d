using System.Diagnostics;
using System.Threading.Channels;

namespace Offload.Aggregator.Staleness;

/// <summary>
/// Runs a <see cref="IStalenessCorrector"/> off the request path: ingest enqueues a stale update and
/// gets back a task for its correction, while one dedicated worker thread corrects updates in
/// arrival order. The queue is bounded (<see cref="BoundedChannelFullMode.Wait"/>): while it has
/// room, enqueueing returns at once however slow a correction is; when it is full,
/// <see cref="EnqueueAsync"/> waits (the queue pushes back) and <see cref="TryEnqueue"/> refuses.
/// </summary>
/// <remarks>
/// The corrector is only ever called from the worker thread, one update at a time, so it needs no
/// locking and its per-client state (such as warm starts) sees updates in enqueue order. A
/// corrector that throws faults that update's task and the worker moves on.
/// </remarks>
public sealed class CorrectionQueue : IAsyncDisposable, IDisposable
{
    private readonly IStalenessCorrector _corrector;
    private readonly Channel<Job> _channel;
    private readonly Thread _worker;
    private readonly CancellationTokenSource _stopping = new();
    private int _pending;
    private long _completed;
    private long _faulted;
    private int _disposed;

    /// <summary>Starts the worker thread.</summary>
    /// <param name="corrector">The corrector the worker runs; the queue does not dispose it.</param>
    /// <param name="capacity">Updates that may wait (not counting the one being corrected) before ingest is pushed back.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is below 1.</exception>
    public CorrectionQueue(IStalenessCorrector corrector, int capacity)
    {
        ArgumentNullException.ThrowIfNull(corrector);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _corrector = corrector;
        Capacity = capacity;
        _channel = Channel.CreateBounded<Job>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _worker = new Thread(Work) { IsBackground = true, Name = $"offload-correction-{corrector.Name}" };
        _worker.Start();
    }

    /// <summary>Updates that may wait before ingest is pushed back.</summary>
    public int Capacity { get; }

    /// <summary>Updates enqueued and not yet finished (waiting or being corrected).</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Corrections finished successfully.</summary>
    public long Completed => Interlocked.Read(ref _completed);

    /// <summary>Corrections that threw.</summary>
    public long Faulted => Interlocked.Read(ref _faulted);

    /// <summary>The corrector the worker runs.</summary>
    public IStalenessCorrector Corrector => _corrector;

    /// <summary>
    /// Enqueues <paramref name="update"/>, waiting while the queue is full. The returned task (the
    /// outer one completes when the update is in the queue) completes when the update is corrected.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The queue was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting for room.</exception>
    public async ValueTask<Task<CorrectedUpdate>> EnqueueAsync(StaleUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var job = new Job(update, Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _pending);
        try
        {
            await _channel.Writer.WriteAsync(job, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException e)
        {
            Interlocked.Decrement(ref _pending);
            throw new ObjectDisposedException("The correction queue was disposed.", e);
        }
        catch
        {
            Interlocked.Decrement(ref _pending);
            throw;
        }
        return job.Completion.Task;
    }

    /// <summary>Enqueues <paramref name="update"/> only if there is room now; false means the queue is full (or closed) and nothing was enqueued.</summary>
    public bool TryEnqueue(StaleUpdate update, out Task<CorrectedUpdate> completion)
    {
        ArgumentNullException.ThrowIfNull(update);
        var job = new Job(update, Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _pending);
        if (Volatile.Read(ref _disposed) == 0 && _channel.Writer.TryWrite(job))
        {
            completion = job.Completion.Task;
            return true;
        }
        Interlocked.Decrement(ref _pending);
        completion = Task.FromCanceled<CorrectedUpdate>(new CancellationToken(true));
        return false;
    }

    private void Work()
    {
        var reader = _channel.Reader;
        try
        {
            while (reader.WaitToReadAsync(_stopping.Token).AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out var job)) Run(job);
            }
        }
        catch (OperationCanceledException)
        {
            // Disposal without draining: fail what is left.
        }
        while (reader.TryRead(out var left))
        {
            left.Completion.TrySetCanceled();
            Interlocked.Decrement(ref _pending);
        }
    }

    private void Run(Job job)
    {
        long taken = Stopwatch.GetTimestamp();
        double cpuStart = ThreadCpuClock.Now();
        try
        {
            var correction = _corrector.Correct(job.Update, _stopping.Token);
            double cpu = ThreadCpuClock.Now() - cpuStart;
            var result = new CorrectedUpdate(correction, cpu, Stopwatch.GetElapsedTime(taken).TotalSeconds,
                Stopwatch.GetElapsedTime(job.EnqueuedAt, taken).TotalSeconds);
            Interlocked.Increment(ref _completed);
            Interlocked.Decrement(ref _pending);
            job.Completion.TrySetResult(result);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _faulted);
            Interlocked.Decrement(ref _pending);
            if (e is OperationCanceledException) job.Completion.TrySetCanceled();
            else job.Completion.TrySetException(e);
        }
    }

    /// <summary>Stops taking updates, lets the worker finish what was enqueued, and waits for it.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _channel.Writer.TryComplete();
            return new ValueTask(Task.Factory.StartNew(() => { _worker.Join(); _stopping.Dispose(); },
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Stops taking updates, cancels what is still waiting, and waits for the worker.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _channel.Writer.TryComplete();
        _stopping.Cancel();
        _worker.Join();
        _stopping.Dispose();
    }

    private sealed class Job(StaleUpdate update, long enqueuedAt)
    {
        public StaleUpdate Update { get; } = update;
        public long EnqueuedAt { get; } = enqueuedAt;
        public TaskCompletionSource<CorrectedUpdate> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
