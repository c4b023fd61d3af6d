namespace Offload.Gateway.Authentication;

/// <summary>The client a call's bearer token belongs to.</summary>
/// <param name="ClientId">The id tasks and updates are recorded under.</param>
public sealed record ClientIdentity(string ClientId);
