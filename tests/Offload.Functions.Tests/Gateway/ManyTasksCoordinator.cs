using Offload.Aggregator.Rounds;

namespace Offload.Functions.Tests.Gateway;

/// <summary>Lets a client submit under any task id starting with <see cref="Prefix"/>, as if it held that many tasks (a per-client share needs more than one).</summary>
internal sealed class ManyTasksCoordinator(IRoundCoordinator inner) : DelegatingCoordinator(inner)
{
    public const string Prefix = "many-";

    /// <summary>The task the inner coordinator gave each client, which the extra ids copy.</summary>
    public Dictionary<string, RoundTask> Held { get; } = [];

    public override SubmissionCheck CheckSubmission(string clientId, string taskId, out RoundTask? task)
    {
        RoundTask? real;
        lock (Held) Held.TryGetValue(clientId, out real);
        if (taskId.StartsWith(Prefix, StringComparison.Ordinal) && real is not null)
        {
            task = real with { TaskId = taskId };
            return SubmissionCheck.Open;
        }
        var check = Inner.CheckSubmission(clientId, taskId, out task);
        if (task is not null) lock (Held) Held[clientId] = task;
        return check;
    }
}
