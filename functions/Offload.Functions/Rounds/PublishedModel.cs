namespace Offload.Functions.Rounds;

/// <summary>The model a round published: its version and where it is stored.</summary>
/// <param name="Version">The new global model version.</param>
/// <param name="Reference">Its store key.</param>
public sealed record PublishedModel(long Version, string Reference);
