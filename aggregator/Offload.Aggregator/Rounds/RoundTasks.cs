using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Aggregator.Rounds;

/// <summary>
/// The tasks a coordinator hands out, shared by <see cref="SynchronousRoundCoordinator"/> and the Dapr
/// deployment's coordinator: one task per client per round, up to <see cref="RoundOptions.TasksPerRound"/>,
/// the same task again until its update is reserved, and the checks a submission must pass. Tasks of
/// the round before stay known, so a late submission hears "round closed" rather than "not held";
/// older ones are forgotten. Not thread-safe: the coordinator calls it under its own lock.
/// </summary>
public sealed class RoundTasks
{
    private readonly RoundOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Entry> _tasks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _taskByClient = new(StringComparer.Ordinal);
    private int _issued;
    private TrainingOptions _plan;

    /// <summary>Creates an empty set; <see cref="Open"/> starts round 1.</summary>
    public RoundTasks(RoundOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        _options = options;
        _time = time;
        _plan = options.Plan;
    }

    /// <summary>
    /// Called with each new task before it is handed out (a journal records it there); if it throws,
    /// the task is not issued and the exception reaches the caller of <see cref="Offer"/>.
    /// </summary>
    public Action<RoundTask>? Issuing { get; set; }

    /// <summary>The round tasks are handed out for.</summary>
    public long Round { get; private set; }

    /// <summary>The local training this round's tasks ask for (the strategy's configuration).</summary>
    public TrainingOptions Plan => _plan;

    /// <summary>Starts handing out tasks of <paramref name="round"/>, training with <paramref name="plan"/> (the strategy's configuration): nobody holds one yet.</summary>
    public void Open(long round, TrainingOptions plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        _plan = plan;
        Round = round;
        _issued = 0;
        _taskByClient.Clear();
        foreach (var stale in _tasks.Values.Where(e => e.Task.Round < round - 1).Select(e => e.Task.TaskId).ToArray()) _tasks.Remove(stale);
    }

    /// <summary>Lets another <see cref="RoundOptions.TasksPerRound"/> tasks go out in this round (its deadline passed with no update).</summary>
    public void AllowAnotherBatch() => _issued = 0;

    /// <summary>Forgets which client holds which task, so each asks anew (the federation is done, or the round reopened).</summary>
    public void ForgetHolders() => _taskByClient.Clear();

    /// <summary>
    /// Work for <paramref name="clientId"/>: the task it holds in this round if not yet submitted, else a
    /// new one while the round has room, else wait; done when <paramref name="done"/>.
    /// </summary>
    /// <param name="clientId">Who asks.</param>
    /// <param name="done">Whether the last round has closed.</param>
    /// <param name="accepting">Whether the round takes updates now.</param>
    /// <param name="version">The model version a new task trains from.</param>
    /// <param name="roundOpened">When the round opened (a <see cref="TimeProvider.GetTimestamp"/>): the task is due a round deadline later.</param>
    public TaskOffer Offer(string clientId, bool done, bool accepting, ModelVersion version, long roundOpened)
    {
        if (done) return TaskOffer.Done;
        if (_taskByClient.TryGetValue(clientId, out string? held))
        {
            var entry = _tasks[held];
            return !entry.Reserved && accepting ? TaskOffer.Assigned(entry.Task) : TaskOffer.Wait(_options.WaitRetry);
        }
        if (!accepting || _issued >= _options.TasksPerRound) return TaskOffer.Wait(_options.WaitRetry);
        var deadline = _time.GetUtcNow() + (_options.RoundDeadline - _time.GetElapsedTime(roundOpened));
        var task = new RoundTask($"r{Round}-{Guid.NewGuid():N}", clientId, Round, version, deadline, _plan);
        Issuing?.Invoke(task);
        _tasks.Add(task.TaskId, new Entry(task));
        _taskByClient[clientId] = task.TaskId;
        _issued++;
        return TaskOffer.Assigned(task);
    }

    /// <summary>
    /// Takes back a task issued before a restart (after <see cref="Open"/> of its round, or of the round
    /// after it): its client holds it again, and counts against the round's batch.
    /// </summary>
    /// <exception cref="ArgumentException">The task is of a round other than this one or the one before.</exception>
    public void Restore(RoundTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.Round != Round && task.Round != Round - 1)
            throw new ArgumentException($"Task '{task.TaskId}' is of round {task.Round}; only rounds {Round - 1} and {Round} can be restored.", nameof(task));
        _tasks[task.TaskId] = new Entry(task);
        if (task.Round != Round) return;
        _taskByClient[task.ClientId] = task.TaskId;
        _issued++;
    }

    /// <summary>Whether <paramref name="clientId"/> may submit for <paramref name="taskId"/> now; changes nothing.</summary>
    public SubmissionCheck Check(string clientId, string taskId, bool done, bool accepting, out RoundTask? task)
    {
        task = null;
        if (string.IsNullOrEmpty(taskId) || !_tasks.TryGetValue(taskId, out var entry) || entry.Task.ClientId != clientId)
            return SubmissionCheck.NotHeld;
        task = entry.Task;
        if (entry.Reserved) return SubmissionCheck.AlreadySubmitted;
        if (done || entry.Task.Round != Round || !accepting) return SubmissionCheck.RoundClosed;
        return SubmissionCheck.Open;
    }

    /// <summary>Marks the task's update reserved; call after <see cref="Check"/> answered <see cref="SubmissionCheck.Open"/>.</summary>
    public void Reserve(string taskId) => _tasks[taskId].Reserved = true;

    /// <summary>
    /// Undoes the reservation of <paramref name="clientId"/>'s task if it is reserved and not folded;
    /// true when it was a task of the current round (whose counts the caller then gives back).
    /// </summary>
    public bool Release(string clientId, string taskId)
    {
        if (!_tasks.TryGetValue(taskId, out var entry) || entry.Task.ClientId != clientId || !entry.Reserved || entry.Folded) return false;
        entry.Reserved = false;
        return entry.Task.Round == Round;
    }

    /// <summary>Whether an update of <paramref name="clientId"/> for <paramref name="taskId"/> was reserved in the current round and awaits folding.</summary>
    public bool AwaitsFolding(string clientId, string taskId) =>
        _tasks.TryGetValue(taskId, out var entry) && entry.Task.ClientId == clientId && entry.Reserved && !entry.Folded && entry.Task.Round == Round;

    /// <summary>Records that the task's update was folded (or refused at folding): it is settled.</summary>
    public void MarkFolded(string taskId) => _tasks[taskId].Folded = true;

    private sealed class Entry(RoundTask task)
    {
        public RoundTask Task { get; } = task;
        public bool Reserved { get; set; }
        public bool Folded { get; set; }
    }
}
