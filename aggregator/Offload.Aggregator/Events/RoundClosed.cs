using Offload.Core.Model;

namespace Offload.Aggregator.Events;

/// <summary>A round was aggregated and a new global model published (the model itself is read from the coordinator).</summary>
/// <param name="Round">The 1-based round that closed.</param>
/// <param name="Version">The global model version it produced.</param>
/// <param name="Updates">Updates folded into it.</param>
/// <param name="Final">Whether it was the last round.</param>
public sealed record RoundClosed(long Round, ModelVersion Version, int Updates, bool Final);
