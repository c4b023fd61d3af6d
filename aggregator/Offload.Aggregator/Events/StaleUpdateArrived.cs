using Offload.Aggregator.Storage;

namespace Offload.Aggregator.Events;

/// <summary>
/// A stale update was accepted and waits for the corrector (the Dapr deployment's corrector app): it
/// is corrected against <see cref="Target"/>, the newest model when it was announced, from its base
/// model <see cref="BaseModel"/>, and the corrected update is announced to the leaves as an
/// <see cref="UpdateArrived"/> of <see cref="UpdateArrived.Round"/>.
/// </summary>
/// <param name="Update">The update as the gateway stored it; its round is the one open when it was announced (trained towards <see cref="TargetVersion"/> + 1).</param>
/// <param name="BaseModel">Where the model it was trained from (<see cref="UpdateArrived.BaseVersion"/>) is stored.</param>
/// <param name="Target">Where the model it is corrected towards is stored.</param>
/// <param name="TargetVersion">That model's version.</param>
public sealed record StaleUpdateArrived(UpdateArrived Update, UpdateReference BaseModel, UpdateReference Target, long TargetVersion);
