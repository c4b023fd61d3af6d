using Offload.Core.Federation;
using Offload.Client.Training;
using Offload.Core.Codec;

namespace Offload.Client.Federation;

/// <summary>The gateway's answer to "any work for me?": a task, a wait, or done.</summary>
/// <param name="State">Assigned, wait or done.</param>
/// <param name="TaskId">The task's id (assigned only).</param>
/// <param name="Round">The 1-based round (assigned only).</param>
/// <param name="ModelVersion">The global model version to train from (assigned only).</param>
/// <param name="Training">Local training hyper-parameters (assigned only).</param>
/// <param name="Deadline">When the round stops waiting (assigned only).</param>
/// <param name="RetryAfter">How long to wait before asking again (wait only).</param>
/// <param name="TotalRounds">Rounds the federation runs.</param>
/// <param name="LayoutHash">The model's <see cref="Core.Model.TensorLayout.Hash"/>; train only a model with this layout.</param>
/// <param name="ParameterCount">The model's parameter count.</param>
/// <param name="MaxUpdateBytes">Largest update the gateway accepts.</param>
/// <param name="Codec">The codec the gateway asks the update to be encoded with.</param>
public sealed record FederatedTask(
    FederatedTaskState State,
    string TaskId,
    long Round,
    long ModelVersion,
    TrainingOptions? Training,
    DateTimeOffset Deadline,
    TimeSpan RetryAfter,
    long TotalRounds,
    ulong LayoutHash,
    int ParameterCount,
    long MaxUpdateBytes,
    PayloadCodec Codec);
