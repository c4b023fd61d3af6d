namespace Offload.Aggregator.Storage;

/// <summary>No committed payload is stored under a reference: never written, not yet committed, or deleted.</summary>
public sealed class UpdateNotFoundException : Exception
{
    /// <summary>Creates the exception naming the reference.</summary>
    public UpdateNotFoundException(UpdateReference reference)
        : base($"No committed update is stored under '{reference.Key}'.")
    {
        Reference = reference;
    }

    /// <summary>The reference that was looked up.</summary>
    public UpdateReference Reference { get; }
}
