using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Aggregator.Rounds;

/// <summary>Work handed to one client in one round: train from <see cref="BaseVersion"/> and submit one update.</summary>
/// <param name="TaskId">Unguessable id; only <see cref="ClientId"/> may submit for it.</param>
/// <param name="ClientId">The client that holds the task.</param>
/// <param name="Round">The 1-based round.</param>
/// <param name="BaseVersion">The global model version to train from.</param>
/// <param name="Deadline">When the round stops waiting for updates.</param>
/// <param name="Plan">Local training hyper-parameters.</param>
public sealed record RoundTask(string TaskId, string ClientId, long Round, ModelVersion BaseVersion, DateTimeOffset Deadline, TrainingOptions Plan);
