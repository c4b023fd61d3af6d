using Offload.Aggregator.Events;
using Offload.Aggregator.Strategies;

namespace Offload.Aggregator.Journal;

/// <summary>An update the gateway acknowledged: the event it announced, the upload's idempotency key (retries are answered by it) and the client's score, if it sent one.</summary>
/// <param name="Arrived">The <see cref="UpdateArrived"/> announced for it.</param>
/// <param name="IdempotencyKey">The key the device uploaded it under.</param>
/// <param name="Evaluation">The client's score of the task's model on its own data (federated evaluation), or null.</param>
public sealed record AcceptedUpdate(UpdateArrived Arrived, string IdempotencyKey, ClientEvaluation? Evaluation);
