namespace Offload.Client.Federation;

/// <summary>
/// A downloaded model arrived intact (its checksum holds) but cannot be trained from: a weight is NaN
/// or infinite, as after a poisoned update was folded on the server. <see cref="FederatedClient.ParticipateAsync"/>
/// skips the round; the client does not keep the model as the base of the next change.
/// </summary>
public sealed class InvalidModelException : Exception
{
    /// <summary>Creates the exception with its reason.</summary>
    public InvalidModelException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with its reason and cause.</summary>
    public InvalidModelException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
