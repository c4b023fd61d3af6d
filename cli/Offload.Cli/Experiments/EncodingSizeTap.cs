using System.IO.Compression;
using System.Runtime.InteropServices;
using Offload.Cli.Simulation;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Cli.Experiments;

/// <summary>
/// Measures, on the very updates a run sends, what the other encodings would have cost. For a FedZip
/// payload it decodes the quantized update that was sent and re-encodes it with each fixed encoding:
/// the kept entries and centroids are the same (a tensor's kept values take at most k distinct values,
/// which optimal k-means reproduces exactly), so only the entropy coding differs. For raw updates it
/// compresses the float32 bytes with Brotli and GZip (System.IO.Compression, optimal level), the
/// general-purpose baseline. Thread-safe.
/// </summary>
public sealed class EncodingSizeTap : IUpdateTap
{
    private static readonly FedZipEncoding[] Fixed = { FedZipEncoding.Huffman, FedZipEncoding.Positions, FedZipEncoding.Gaps };
    private readonly TensorLayout _layout;
    private readonly FedZipCodec[] _reencoders;
    private readonly bool _generalPurpose;
    private readonly long[] _encodingBytes = new long[Fixed.Length];
    private long _brotliBytes;
    private long _gzipBytes;
    private long _rawBytes;
    private long _updates;

    /// <summary>Creates a tap for FedZip runs (<paramref name="options"/> set) or raw runs (null: Brotli and GZip).</summary>
    public EncodingSizeTap(TensorLayout layout, FedZipOptions? options)
    {
        _layout = layout;
        _generalPurpose = options is null;
        _reencoders = options is null
            ? Array.Empty<FedZipCodec>()
            : Array.ConvertAll(Fixed, e => new FedZipCodec(options with { Encoding = e, ErrorFeedback = false }));
    }

    /// <summary>Updates seen.</summary>
    public long Updates => Interlocked.Read(ref _updates);

    /// <summary>Raw float32 bytes of the updates seen.</summary>
    public long RawBytes => Interlocked.Read(ref _rawBytes);

    /// <summary>Total bytes each fixed encoding would have sent, by encoding name.</summary>
    public IReadOnlyDictionary<string, long> EncodingBytes
    {
        get
        {
            var sizes = new Dictionary<string, long>();
            for (int i = 0; i < _reencoders.Length; i++) sizes[Fixed[i].ToString().ToLowerInvariant()] = Interlocked.Read(ref _encodingBytes[i]);
            if (_generalPurpose)
            {
                sizes["brotli"] = Interlocked.Read(ref _brotliBytes);
                sizes["gzip"] = Interlocked.Read(ref _gzipBytes);
            }
            return sizes;
        }
    }

    /// <inheritdoc/>
    public void Encoded(int round, int client, ReadOnlySpan<float> update, ReadOnlySpan<byte> payload)
    {
        Interlocked.Increment(ref _updates);
        Interlocked.Add(ref _rawBytes, (long)update.Length * sizeof(float));
        if (_generalPurpose)
        {
            var raw = MemoryMarshal.AsBytes(update);
            Interlocked.Add(ref _brotliBytes, Compressed(raw, s => new BrotliStream(s, CompressionLevel.Optimal, leaveOpen: true)));
            Interlocked.Add(ref _gzipBytes, Compressed(raw, s => new GZipStream(s, CompressionLevel.Optimal, leaveOpen: true)));
            return;
        }
        var sent = new float[_layout.TotalLength];
        new FedZipCodec().Decode(payload, _layout, sent);
        for (int i = 0; i < _reencoders.Length; i++)
            Interlocked.Add(ref _encodingBytes[i], _reencoders[i].Encode(sent, _layout).Length);
    }

    private static long Compressed(ReadOnlySpan<byte> raw, Func<Stream, Stream> compressor)
    {
        using var sink = new MemoryStream();
        using (var stream = compressor(sink)) stream.Write(raw);
        return sink.Length;
    }
}
