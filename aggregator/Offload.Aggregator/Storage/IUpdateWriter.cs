namespace Offload.Aggregator.Storage;

/// <summary>
/// Appends the bytes of one pending update payload to a store, chunk by chunk, so a host never holds
/// a whole payload in its own buffers. What was written survives a dropped connection: the next
/// <see cref="IUpdateStore.OpenWriteAsync(UpdateReference, CancellationToken)"/> for the same reference continues at <see cref="Length"/>.
/// One writer per reference at a time; callers serialise their calls.
/// </summary>
public interface IUpdateWriter
{
    /// <summary>The payload being written.</summary>
    UpdateReference Reference { get; }

    /// <summary>Bytes stored so far.</summary>
    long Length { get; }

    /// <summary>Appends <paramref name="data"/> at <see cref="Length"/>.</summary>
    /// <exception cref="InvalidOperationException">The payload was committed or deleted.</exception>
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>Makes the payload readable and immutable.</summary>
    /// <exception cref="InvalidOperationException">The payload was deleted.</exception>
    ValueTask CommitAsync(CancellationToken cancellationToken = default);
}
