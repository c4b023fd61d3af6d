using System.Buffers.Binary;
using Dapr.Client;
using Offload.Aggregator.Storage;
using Offload.Functions.Names;

namespace Offload.Functions.Storage;

/// <summary>
/// <see cref="IUpdateStore"/> over a Dapr state store, for the deployment where any function instance
/// must read what another wrote (the component sets <c>keyPrefix: none</c>, so both apps see one key
/// space). Values go through the SDK's byte-state calls (<see cref="DaprClient.SaveByteStateAsync"/>),
/// raw bytes: <c>SaveStateAsync&lt;byte[]&gt;</c> would send them as JSON base64, a third larger.
/// An object is kept as pieces of at most <see cref="MaxPieceBytes"/> (<c>{key}|c{n}</c>) and a
/// small manifest (<c>{key}|m</c>: length, piece count, committed), so no state call comes near
/// daprd's 4 MB message limit whatever the model's size, and a resumed upload continues after
/// the last piece written.
/// </summary>
public sealed class DaprUpdateStore : IUpdateStore
{
    /// <summary>Largest value one state call carries: a quarter of daprd's default 4 MB body limit, leaving room for framing.</summary>
    public const int MaxPieceBytes = 1024 * 1024;

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
        if (manifest.Length > Array.MaxLength) throw new InvalidDataException($"'{reference.Key}' names {manifest.Length} bytes, more than one array holds.");
        var bytes = new byte[manifest.Length];
        int offset = 0;
        for (int i = 0; i < manifest.Pieces; i++)
        {
            var piece = await _client.GetByteStateAsync(_storeName, PieceKey(reference, i), cancellationToken: cancellationToken).ConfigureAwait(false);
            // Pieces are never empty, so an empty answer is a missing piece (deleted by another attempt meanwhile).
            if (piece.IsEmpty) throw new UpdateNotFoundException(reference);
            if (offset + (long)piece.Length > bytes.Length) throw new InvalidDataException($"The pieces of '{reference.Key}' hold more than the {manifest.Length} bytes its manifest names.");
            piece.Span.CopyTo(bytes.AsSpan(offset));
            offset += piece.Length;
        }
        if (offset != bytes.Length) throw new InvalidDataException($"The pieces of '{reference.Key}' hold {offset} bytes; its manifest names {manifest.Length}.");
        return new MemoryStream(bytes, writable: false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        var manifest = await GetManifestAsync(reference, cancellationToken).ConfigureAwait(false);
        if (manifest is null) return false;
        // The manifest first: a reader then finds nothing rather than a short object.
        await _client.DeleteStateAsync(_storeName, ManifestKey(reference), cancellationToken: cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < manifest.Pieces; i++)
            await _client.DeleteStateAsync(_storeName, PieceKey(reference, i), cancellationToken: cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static string ManifestKey(UpdateReference reference) => EnsureKey(reference) + "|m";

    private static string PieceKey(UpdateReference reference, int index) => EnsureKey(reference) + "|c" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string EnsureKey(UpdateReference reference) =>
        reference.Key ?? throw new ArgumentException("The update reference is the default value; create it with a key.", nameof(reference));

    private async Task<Manifest?> GetManifestAsync(UpdateReference reference, CancellationToken cancellationToken)
    {
        var bytes = await _client.GetByteStateAsync(_storeName, ManifestKey(reference), cancellationToken: cancellationToken).ConfigureAwait(false);
        return bytes.IsEmpty ? null : Manifest.Decode(bytes.Span, reference);
    }

    private Task SaveManifestAsync(UpdateReference reference, Manifest manifest, CancellationToken cancellationToken) =>
        _client.SaveByteStateAsync(_storeName, ManifestKey(reference), manifest.Encode(), cancellationToken: cancellationToken);

    /// <summary>What is stored for one object: <c>OUM1</c>, int64 length, int32 piece count, one byte committed (little-endian).</summary>
    internal sealed record Manifest(long Length, int Pieces, bool Committed)
    {
        private const int EncodedLength = 17;

        private static ReadOnlySpan<byte> Magic => "OUM1"u8;

        public byte[] Encode()
        {
            var bytes = new byte[EncodedLength];
            Magic.CopyTo(bytes);
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(4), Length);
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), Pieces);
            bytes[16] = Committed ? (byte)1 : (byte)0;
            return bytes;
        }

        /// <exception cref="InvalidDataException">The value is not a manifest.</exception>
        public static Manifest Decode(ReadOnlySpan<byte> bytes, UpdateReference reference)
        {
            if (bytes.Length != EncodedLength || !bytes[..4].SequenceEqual(Magic) || bytes[16] > 1)
                throw new InvalidDataException($"The manifest of '{reference.Key}' is not one this store wrote ({bytes.Length} bytes).");
            long length = BinaryPrimitives.ReadInt64LittleEndian(bytes[4..]);
            int pieces = BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]);
            if (length < 0 || pieces < 0 || pieces > length) throw new InvalidDataException($"The manifest of '{reference.Key}' names {length} bytes in {pieces} pieces.");
            return new Manifest(length, pieces, bytes[16] == 1);
        }
    }

    private sealed class Writer(DaprUpdateStore store, UpdateReference reference, Manifest manifest) : IUpdateWriter
    {
        private Manifest _manifest = manifest;

        public UpdateReference Reference { get; } = reference;

        public long Length => _manifest.Length;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            if (_manifest.Committed) throw new InvalidOperationException($"The update '{Reference.Key}' is committed; it cannot be appended to.");
            if (data.IsEmpty) return;
            // The pieces first, then the manifest that counts them: a crash in between leaves orphan pieces, never a short read.
            int pieces = _manifest.Pieces;
            for (int offset = 0; offset < data.Length; offset += MaxPieceBytes, pieces++)
            {
                var piece = data.Slice(offset, Math.Min(MaxPieceBytes, data.Length - offset));
                await store._client.SaveByteStateAsync(store._storeName, PieceKey(Reference, pieces), piece, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            var next = _manifest with { Length = _manifest.Length + data.Length, Pieces = pieces };
            await store.SaveManifestAsync(Reference, next, cancellationToken).ConfigureAwait(false);
            _manifest = next;
        }

        public async ValueTask CommitAsync(CancellationToken cancellationToken = default)
        {
            var next = _manifest with { Committed = true };
            await store.SaveManifestAsync(Reference, next, cancellationToken).ConfigureAwait(false);
            _manifest = next;
        }
    }
}
