using Offload.Aggregator.Rounds;
using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Functions.Journal;

/// <summary>A <see cref="RoundTask"/> as JSON keeps it: plain fields, validated again when read back (<see cref="ToTask"/>).</summary>
internal sealed record JournaledTask(string TaskId, string ClientId, long Round, long BaseVersion, long DeadlineMilliseconds,
    int LocalEpochs, int BatchSize, double LearningRate, double ProximalMu, bool Evaluate, Dictionary<string, string> Settings)
{
    public static JournaledTask Of(RoundTask task) => new(task.TaskId, task.ClientId, task.Round, task.BaseVersion.Value, task.Deadline.ToUnixTimeMilliseconds(),
        task.Plan.LocalEpochs, task.Plan.BatchSize, task.Plan.LearningRate, task.Plan.ProximalMu, task.Plan.Evaluate, new Dictionary<string, string>(task.Plan.Settings));

    /// <exception cref="ArgumentException">A field is out of range (the document was changed).</exception>
    public RoundTask ToTask()
    {
        ArgumentException.ThrowIfNullOrEmpty(TaskId);
        ArgumentException.ThrowIfNullOrEmpty(ClientId);
        ArgumentOutOfRangeException.ThrowIfLessThan(Round, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(BaseVersion);
        return new(TaskId, ClientId, Round, new ModelVersion(BaseVersion), DateTimeOffset.FromUnixTimeMilliseconds(DeadlineMilliseconds),
            new TrainingOptions(LocalEpochs, BatchSize, LearningRate) { ProximalMu = ProximalMu, Evaluate = Evaluate, Settings = Settings ?? [] });
    }
}
