using Offload.Aggregator.Storage;

namespace Offload.Functions.Tests.Aggregation;

/// <summary>An in-memory store whose reads fail with <see cref="Failure"/> while it is set (a store briefly unavailable).</summary>
internal sealed class FailingUpdateStore : IUpdateStore
{
    private readonly InMemoryUpdateStore _inner = new();

    public Exception? Failure { get; set; }

    /// <summary>Reads that still succeed before <see cref="Failure"/> applies (null: it applies at once).</summary>
    public int? ReadsBeforeFailure { get; set; }

    public ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, CancellationToken cancellationToken = default) => _inner.OpenWriteAsync(reference, cancellationToken);

    public ValueTask<long> GetLengthAsync(UpdateReference reference, CancellationToken cancellationToken = default) => _inner.GetLengthAsync(reference, cancellationToken);

    public ValueTask<Stream> OpenReadAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        if (Failure is { } failure)
        {
            if (ReadsBeforeFailure is null or <= 0) throw failure;
            ReadsBeforeFailure--;
        }
        return _inner.OpenReadAsync(reference, cancellationToken);
    }

    public ValueTask<bool> DeleteAsync(UpdateReference reference, CancellationToken cancellationToken = default) => _inner.DeleteAsync(reference, cancellationToken);
}
