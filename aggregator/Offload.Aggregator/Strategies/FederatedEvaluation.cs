namespace Offload.Aggregator.Strategies;

/// <summary>A round's federated evaluation: the clients' scores of the model they were sent, combined.</summary>
/// <param name="Clients">Clients that reported.</param>
/// <param name="Examples">Examples behind the scores.</param>
/// <param name="Loss">Combined loss.</param>
/// <param name="Accuracy">Combined accuracy.</param>
public sealed record FederatedEvaluation(int Clients, long Examples, double Loss, double Accuracy);
