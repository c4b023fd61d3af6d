using Offload.Aggregator.Rounds;
using Offload.Aggregator.Strategies;
using Offload.Core.Model;

namespace Offload.Aggregator.Asynchronous;

/// <summary>
/// The task book of asynchronous serving, shared by the in-process coordinator and the Dapr
/// deployment's: tasks go out continuously, each from the newest version, at most
/// <see cref="AsynchronousOptions.Concurrency"/> at once; at most Versions x K are ever reserved, so
/// the last version is published with every acknowledged update in it and none left over. Each task
/// moves open, reserved, folding, settled; an expired open task frees its place.
/// </summary>
/// <remarks>Not thread-safe: the coordinator calls it under its own lock.</remarks>
public sealed class ContinuousTasks
{
    private readonly AsynchronousOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Entry> _tasks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry> _byClient = new(StringComparer.Ordinal);
    private int _open;
    private long _lastPrune;

    /// <summary>Creates an empty book.</summary>
    public ContinuousTasks(AsynchronousOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        _options = options;
        _time = time;
    }

    /// <summary>Updates reserved so far (acknowledged, or about to be).</summary>
    public long Reservations { get; private set; }

    /// <summary>Updates the federation takes in all: K per version.</summary>
    public long Needed => (long)_options.Versions * _options.BufferSize;

    /// <summary>
    /// Work for <paramref name="clientId"/>: the task it holds if the model has not moved since, else a
    /// new one from <paramref name="version"/> while there is room; wait when every update the federation
    /// still needs is reserved; done once <paramref name="done"/>.
    /// </summary>
    public TaskOffer Offer(string clientId, ModelVersion version, bool done)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        if (done) return TaskOffer.Done;
        if (Reservations >= Needed) return TaskOffer.Wait(_options.WaitRetry);
        var now = _time.GetUtcNow();
        Prune(now);
        if (_byClient.TryGetValue(clientId, out var held) && held.State == State.Open)
        {
            if (held.Task.BaseVersion == version && held.Task.Deadline > now) return TaskOffer.Assigned(held.Task);
            Forget(held); // The device asks again: it gave its task up (it restarted, or skipped); the newest model replaces it.
        }
        if (_options.Concurrency > 0 && _open >= _options.Concurrency) return TaskOffer.Wait(_options.WaitRetry);
        var task = new RoundTask($"v{version.Value}-{Guid.NewGuid():N}", clientId, version.Value + 1, version, now + _options.TaskLifetime, _options.Plan);
        var entry = new Entry(task);
        _tasks.Add(task.TaskId, entry);
        _byClient[clientId] = entry;
        _open++;
        return TaskOffer.Assigned(task);
    }

    /// <summary>
    /// Whether <paramref name="clientId"/> may submit for <paramref name="taskId"/> now: not held, already
    /// submitted, closed (<paramref name="closed"/>, expired, or nothing more needed), <see cref="SubmissionCheck.Busy"/>
    /// when <paramref name="pushBack"/> says an update of the task's staleness at <paramref name="current"/> must wait, else open.
    /// </summary>
    public SubmissionCheck Check(string clientId, string taskId, ModelVersion current, bool closed, Func<long, bool>? pushBack, out RoundTask? task)
    {
        task = null;
        if (string.IsNullOrEmpty(taskId) || !_tasks.TryGetValue(taskId, out var found) || found.Task.ClientId != clientId) return SubmissionCheck.NotHeld;
        task = found.Task;
        if (found.State != State.Open) return SubmissionCheck.AlreadySubmitted;
        if (closed || found.Task.Deadline <= _time.GetUtcNow() || Reservations >= Needed) return SubmissionCheck.RoundClosed;
        if (pushBack?.Invoke(found.Task.BaseVersion.StalenessAt(current)) == true) return SubmissionCheck.Busy;
        return SubmissionCheck.Open;
    }

    /// <summary>Reserves the task's place (after an open <see cref="Check"/>), keeping the device's score of its model.</summary>
    public void Reserve(string taskId, ClientEvaluation? evaluation)
    {
        var entry = _tasks[taskId];
        entry.State = State.Reserved;
        entry.Evaluation = evaluation;
        _open--;
        Reservations++;
    }

    /// <summary>Gives a reservation back (its update could not be stored or announced); the task is open again.</summary>
    public void Cancel(string clientId, string taskId)
    {
        if (!_tasks.TryGetValue(taskId, out var entry) || entry.Task.ClientId != clientId || entry.State != State.Reserved) return;
        entry.State = State.Open;
        entry.Evaluation = null;
        _open++;
        Reservations--;
    }

    /// <summary>The task of the reserved update to <paramref name="taskId"/>, changing nothing; false when no reservation awaits it.</summary>
    public bool TryGetReserved(string clientId, string taskId, out RoundTask task)
    {
        task = null!;
        if (!_tasks.TryGetValue(taskId, out var entry) || entry.Task.ClientId != clientId || entry.State != State.Reserved) return false;
        task = entry.Task;
        return true;
    }

    /// <summary>Starts folding the reserved update to <paramref name="taskId"/>; false when no reservation awaits it (a second delivery, or a stranger's).</summary>
    public bool TryBeginFold(string clientId, string taskId, out RoundTask task, out ClientEvaluation? evaluation)
    {
        task = null!;
        evaluation = null;
        if (!_tasks.TryGetValue(taskId, out var entry) || entry.Task.ClientId != clientId || entry.State != State.Reserved) return false;
        entry.State = State.Folding;
        task = entry.Task;
        evaluation = entry.Evaluation;
        return true;
    }

    /// <summary>Marks the update to <paramref name="taskId"/> counted: it is forgotten once its task expires.</summary>
    public void Settle(string taskId)
    {
        if (_tasks.TryGetValue(taskId, out var entry)) entry.State = State.Settled;
    }

    /// <summary>Forgets which task each device holds (the federation is done).</summary>
    public void ForgetDevices() => _byClient.Clear();

    /// <summary>Drops tasks past their lifetime, at most once a second: open ones free their place, settled ones are forgotten.</summary>
    private void Prune(DateTimeOffset now)
    {
        long tick = _time.GetTimestamp();
        if (_lastPrune != 0 && _time.GetElapsedTime(_lastPrune, tick) < TimeSpan.FromSeconds(1)) return;
        _lastPrune = tick;
        List<Entry>? expired = null;
        foreach (var entry in _tasks.Values)
            if (entry.Task.Deadline <= now && entry.State is State.Open or State.Settled) (expired ??= []).Add(entry);
        if (expired is null) return;
        foreach (var entry in expired) Forget(entry);
    }

    private void Forget(Entry entry)
    {
        _tasks.Remove(entry.Task.TaskId);
        if (_byClient.TryGetValue(entry.Task.ClientId, out var current) && ReferenceEquals(current, entry)) _byClient.Remove(entry.Task.ClientId);
        if (entry.State == State.Open) _open--;
    }

    private enum State
    {
        Open,
        Reserved,
        Folding,
        Settled,
    }

    private sealed class Entry(RoundTask task)
    {
        public RoundTask Task { get; } = task;
        public State State { get; set; }
        public ClientEvaluation? Evaluation { get; set; }
    }
}
