using Dapr.Client;
using Offload.Aggregator.Storage;
using Offload.Functions.Hosting;

namespace Offload.Functions.Storage;

/// <summary>
/// <see cref="IUpdateStore"/> over a Dapr state store (<see cref="DaprClient.SaveStateAsync{TValue}"/> /
/// <see cref="DaprClient.GetStateAsync{TValue}"/> with <c>byte[]</c> values), for the Kubernetes
/// deployment where any function instance must read what another wrote. A payload is kept as chunks
/// (<c>{key}|c{n}</c>, one per <see cref="IUpdateWriter.WriteAsync"/>) and a small manifest
/// (<c>{key}|m</c>: length, chunk count, committed), so a resumed upload continues where the last
/// chunk ended and no state value is larger than one chunk.
/// </summary>
public sealed class DaprUpdateStore : IUpdateStore
{
    private readonly DaprClient _client;
    private readonly string _storeName;

    /// <summary>Creates a store over the state store <paramref name="storeName"/>.</summary>
    public DaprUpdateStore(DaprClient client, string storeName = DaprNames.StateStore)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(storeName);
        _client = client;
        _storeName = storeName;
    }

    /// <inheritdoc/>
    public async ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        var manifest = await GetManifestAsync(reference, cancellationToken).ConfigureAwait(false) ?? new Manifest(0, 0, false);
        if (manifest.Committed) throw new InvalidOperationException($"The update '{reference.Key}' is already committed; it cannot be written again.");
        return new Writer(this, reference, manifest);
    }

    /// <inheritdoc/>
    public async ValueTask<long> GetLengthAsync(UpdateReference reference, CancellationToken cancellationToken = default) =>
        (await GetManifestAsync(reference, cancellationToken).ConfigureAwait(false))?.Length ?? -1;

    /// <inheritdoc/>
    public async ValueTask<Stream> OpenReadAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        var manifest = await GetManifestAsync(reference, cancellationToken).ConfigureAwait(false);
        if (manifest is not { Committed: true }) throw new UpdateNotFoundException(reference);
        var bytes = new byte[manifest.Length];
        int offset = 0;
        for (int i = 0; i < manifest.Chunks; i++)
        {
            var chunk = await _client.GetStateAsync<byte[]>(_storeName, ChunkKey(reference, i), cancellationToken: cancellationToken).ConfigureAwait(false)
                ?? throw new UpdateNotFoundException(reference);
            if (offset + chunk.Length > bytes.Length) throw new InvalidDataException($"The chunks of '{reference.Key}' hold more than the {manifest.Length} bytes its manifest names.");
            chunk.CopyTo(bytes, offset);
            offset += chunk.Length;
        }
        if (offset != bytes.Length) throw new InvalidDataException($"The chunks of '{reference.Key}' hold {offset} bytes; its manifest names {manifest.Length}.");
        return new MemoryStream(bytes, writable: false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        var manifest = await GetManifestAsync(reference, cancellationToken).ConfigureAwait(false);
        if (manifest is null) return false;
        await _client.DeleteStateAsync(_storeName, ManifestKey(reference), cancellationToken: cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < manifest.Chunks; i++)
            await _client.DeleteStateAsync(_storeName, ChunkKey(reference, i), cancellationToken: cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static string ManifestKey(UpdateReference reference) => EnsureKey(reference) + "|m";

    private static string ChunkKey(UpdateReference reference, int index) => EnsureKey(reference) + "|c" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string EnsureKey(UpdateReference reference) =>
        reference.Key ?? throw new ArgumentException("The update reference is the default value; create it with a key.", nameof(reference));

    private Task<Manifest?> GetManifestAsync(UpdateReference reference, CancellationToken cancellationToken) =>
        _client.GetStateAsync<Manifest?>(_storeName, ManifestKey(reference), cancellationToken: cancellationToken);

    /// <summary>What is stored for one payload.</summary>
    internal sealed record Manifest(long Length, int Chunks, bool Committed);

    private sealed class Writer(DaprUpdateStore store, UpdateReference reference, Manifest manifest) : IUpdateWriter
    {
        private Manifest _manifest = manifest;

        public UpdateReference Reference { get; } = reference;

        public long Length => _manifest.Length;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            if (_manifest.Committed) throw new InvalidOperationException($"The update '{Reference.Key}' is committed; it cannot be appended to.");
            if (data.IsEmpty) return;
            // The chunk first, then the manifest that counts it: a crash in between leaves an orphan chunk, never a short read.
            await store._client.SaveStateAsync(store._storeName, ChunkKey(Reference, _manifest.Chunks), data.ToArray(), cancellationToken: cancellationToken).ConfigureAwait(false);
            var next = _manifest with { Length = _manifest.Length + data.Length, Chunks = _manifest.Chunks + 1 };
            await store._client.SaveStateAsync(store._storeName, ManifestKey(Reference), next, cancellationToken: cancellationToken).ConfigureAwait(false);
            _manifest = next;
        }

        public async ValueTask CommitAsync(CancellationToken cancellationToken = default)
        {
            var next = _manifest with { Committed = true };
            await store._client.SaveStateAsync(store._storeName, ManifestKey(Reference), next, cancellationToken: cancellationToken).ConfigureAwait(false);
            _manifest = next;
        }
    }
}
