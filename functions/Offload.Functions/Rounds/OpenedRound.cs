namespace Offload.Functions.Rounds;

/// <summary>What is fixed once a round is open, so a function instance may keep it: the model's tensors and whether a round follows.</summary>
/// <param name="Round">The round.</param>
/// <param name="Layout">The model's tensors.</param>
/// <param name="Last">Whether no round follows.</param>
/// <param name="Strategy">The round's strategy by name.</param>
public sealed record OpenedRound(long Round, TensorShape[] Layout, bool Last, string Strategy = "fedavg");
