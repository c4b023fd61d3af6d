using Offload.Aggregator.Storage;
using Offload.Core.Model;

namespace Offload.Aggregator.Events;

/// <summary>
/// The top aggregator of a round applied the round's weighted mean and stored the next global model:
/// the claim check the gateway serves tasks from. The weights stay in the <see cref="IUpdateStore"/>.
/// </summary>
/// <param name="Reference">Where the model's weights are stored (little-endian floats).</param>
/// <param name="Round">The 1-based round that produced it.</param>
/// <param name="Version">The new global model version.</param>
/// <param name="Updates">Client updates folded into it.</param>
public sealed record ModelPublished(UpdateReference Reference, long Round, ModelVersion Version, int Updates);
