using Offload.Core.Model;

namespace Offload.Aggregator.Buffered;

/// <summary>What folding one update did.</summary>
/// <param name="Accepted">False when the update was dropped because its base version has left the window.</param>
/// <param name="Staleness">Versions between the update's base and the model it was folded into.</param>
/// <param name="Published">True when this arrival completed the buffer and a new version was published.</param>
/// <param name="Version">The current version after the fold.</param>
public readonly record struct FoldResult(bool Accepted, long Staleness, bool Published, ModelVersion Version);
