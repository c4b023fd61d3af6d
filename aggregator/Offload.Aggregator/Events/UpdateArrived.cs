using Offload.Aggregator.Storage;
using Offload.Core.Model;

namespace Offload.Aggregator.Events;

/// <summary>
/// A client's update was accepted and stored: the claim check an aggregator folds from. The payload
/// stays in the <see cref="IUpdateStore"/> under <see cref="Reference"/>.
/// </summary>
/// <param name="Reference">Where the payload is stored.</param>
/// <param name="ClientId">The client that sent it.</param>
/// <param name="TaskId">The task it answers.</param>
/// <param name="Round">The 1-based round of that task.</param>
/// <param name="BaseVersion">The global model version the client trained from.</param>
/// <param name="SampleCount">Samples the update was trained on.</param>
/// <param name="PayloadBytes">Stored payload size.</param>
/// <param name="Node">The node whose store holds the payload.</param>
/// <param name="Scale">
/// The staleness scale its contribution takes, decided before it was announced: 1 for an update a
/// corrector already made fresh (its own scale is folded into the payload), the fall-back weight for
/// one whose base model is older than the window. Null: the round's strategy weighs it by its
/// staleness when it folds (<c>AggregationStrategy.ScaleOf</c>).
/// </param>
public sealed record UpdateArrived(
    UpdateReference Reference,
    string ClientId,
    string TaskId,
    long Round,
    ModelVersion BaseVersion,
    long SampleCount,
    long PayloadBytes,
    string Node,
    double? Scale = null);
