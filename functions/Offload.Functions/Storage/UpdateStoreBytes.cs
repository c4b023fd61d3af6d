using Offload.Aggregator.Storage;

namespace Offload.Functions.Storage;

/// <summary>Whole-object reads and writes on an <see cref="IUpdateStore"/>, for the small objects functions keep there (partial sums, models).</summary>
public static class UpdateStoreBytes
{
    /// <summary>Reads the committed object under <paramref name="reference"/> into a new array.</summary>
    /// <exception cref="UpdateNotFoundException">Nothing committed is stored there.</exception>
    public static async ValueTask<byte[]> ReadAllAsync(this IUpdateStore store, UpdateReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        await using var stream = await store.OpenReadAsync(reference, cancellationToken).ConfigureAwait(false);
        if (stream.Length > Array.MaxLength) throw new InvalidDataException($"'{reference}' holds {stream.Length} bytes, more than one array can.");
        var bytes = new byte[stream.Length];
        await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
        return bytes;
    }

    /// <summary>Reads the committed object under <paramref name="reference"/>, or null when nothing committed is stored there.</summary>
    public static async ValueTask<byte[]?> TryReadAllAsync(this IUpdateStore store, UpdateReference reference, CancellationToken cancellationToken = default)
    {
        try
        {
            return await store.ReadAllAsync(reference, cancellationToken).ConfigureAwait(false);
        }
        catch (UpdateNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Borrows the committed object under <paramref name="reference"/>, which <paramref name="owner"/>'s
    /// store holds (pulled from that node first when it is another: <see cref="NodeLocalUpdateStore"/>),
    /// or null when nothing committed is stored there.
    /// </summary>
    public static async ValueTask<UpdateLease?> TryLeaseAsync(this IUpdateStore store, UpdateReference reference, string? owner = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        try
        {
            return await store.LeaseFromAsync(reference, owner, cancellationToken).ConfigureAwait(false);
        }
        catch (UpdateNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Borrows <paramref name="reference"/> from <paramref name="owner"/>'s store: a cross-node pull first where the store is a node's and the owner another node.</summary>
    /// <exception cref="UpdateNotFoundException">Nothing committed is stored there.</exception>
    public static ValueTask<UpdateLease> LeaseFromAsync(this IUpdateStore store, UpdateReference reference, string? owner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store is NodeLocalUpdateStore node ? node.LeaseAsync(reference, owner, cancellationToken) : store.LeaseAsync(reference, cancellationToken);
    }

    /// <summary>Deletes <paramref name="reference"/>, on <paramref name="owner"/>'s node too when the store is a node's and the owner another node.</summary>
    public static ValueTask<bool> DeleteFromAsync(this IUpdateStore store, UpdateReference reference, string? owner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store is NodeLocalUpdateStore node ? node.DeleteAsync(reference, owner, cancellationToken) : store.DeleteAsync(reference, cancellationToken);
    }

    /// <summary>The node whose store holds what this process writes to <paramref name="store"/>'s node namespaces, or null when every node reads that store.</summary>
    public static string? OwningNode(this IUpdateStore store) => (store as NodeLocalUpdateStore)?.NodeName;

    /// <summary>
    /// Stores <paramref name="bytes"/> under <paramref name="reference"/> and commits them. Idempotent
    /// for a retried step: an object already committed there is kept (false), a half-written one is
    /// replaced.
    /// </summary>
    /// <returns>Whether this call wrote the object.</returns>
    public static async ValueTask<bool> WriteAllAsync(this IUpdateStore store, UpdateReference reference, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (await store.TryReadLengthOfCommittedAsync(reference, cancellationToken).ConfigureAwait(false)) return false;
        if (await store.GetLengthAsync(reference, cancellationToken).ConfigureAwait(false) > 0)
            await store.DeleteAsync(reference, cancellationToken).ConfigureAwait(false);
        var writer = await store.OpenWriteAsync(reference, cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static async ValueTask<bool> TryReadLengthOfCommittedAsync(this IUpdateStore store, UpdateReference reference, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await store.OpenReadAsync(reference, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (UpdateNotFoundException)
        {
            return false;
        }
    }
}
