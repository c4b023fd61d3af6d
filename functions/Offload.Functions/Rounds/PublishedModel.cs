using Offload.Functions.Storage;

namespace Offload.Functions.Rounds;

/// <summary>The model a round published: its version and where it is stored.</summary>
/// <param name="Version">The new global model version.</param>
/// <param name="Reference">Its store key.</param>
public sealed record PublishedModel(long Version, string Reference)
{
    /// <summary>Throws when a field is out of range for <paramref name="round"/> (which publishes a version in [1, round]).</summary>
    /// <exception cref="ArgumentException">The message names the field and its allowed range.</exception>
    public PublishedModel Validate(long round)
    {
        if (Version < 1 || Version > round) throw new ArgumentException($"PublishedModel.version is {Version}; round {round} publishes a version in [1, {round}].", "version");
        if (StoreKeys.PublishedModelProblem(Reference, Version, "PublishedModel.reference") is { } reference) throw new ArgumentException(reference, "reference");
        return this;
    }
}
