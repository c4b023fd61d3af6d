using System.Buffers.Binary;
using System.Text;
using Offload.Core.Checksums;
using Offload.Core.Wire;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// The server side of a strategy as an explicit value: the rounds it has aggregated and named
/// model-sized vectors (FedAvgM's momentum, the adaptive optimisers' moments). Nothing of a strategy's
/// state lives in the strategy object, so the top aggregator of any instance can run the next round
/// from what is stored beside the model (<see cref="Encode"/>), and a restarted host resumes with it.
/// Not thread-safe: one round's top owns it while it steps.
/// </summary>
/// <remarks>
/// Format (little-endian): "OSST", format version (u16 = 1), strategy name (u8 length + UTF-8),
/// rounds (i64), vector count (i32), then per vector a name (u8 length + UTF-8), a length (i32) and
/// its float32 values; a CRC-32C of everything before it closes the record.
/// </remarks>
public sealed class ServerState
{
    private const uint Magic = 0x5453534F; // "OSST"
    private const ushort FormatVersion = 1;
    private readonly SortedDictionary<string, float[]> _vectors = new(StringComparer.Ordinal);

    /// <summary>An empty state for <paramref name="strategy"/>: no round aggregated, no vector.</summary>
    public ServerState(string strategy)
    {
        ArgumentException.ThrowIfNullOrEmpty(strategy);
        if (Encoding.UTF8.GetByteCount(strategy) > byte.MaxValue) throw new ArgumentException("A strategy name is at most 255 bytes.", nameof(strategy));
        Strategy = strategy;
    }

    /// <summary>The strategy the state belongs to (a state is refused by another).</summary>
    public string Strategy { get; }

    /// <summary>Rounds aggregated so far (t in the server optimisers' equations).</summary>
    public long Rounds { get; set; }

    /// <summary>The names of the vectors held, in order.</summary>
    public IReadOnlyCollection<string> VectorNames => _vectors.Keys;

    /// <summary>The vector <paramref name="name"/>, created with <paramref name="length"/> copies of <paramref name="initial"/> the first time it is asked for.</summary>
    /// <exception cref="InvalidOperationException">The vector exists with another length.</exception>
    public Span<float> Vector(string name, int length, float initial = 0f)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (!_vectors.TryGetValue(name, out var vector))
        {
            if (Encoding.UTF8.GetByteCount(name) > byte.MaxValue) throw new ArgumentException("A vector name is at most 255 bytes.", nameof(name));
            vector = new float[length];
            if (initial != 0f) vector.AsSpan().Fill(initial);
            _vectors.Add(name, vector);
        }
        else if (vector.Length != length)
            throw new InvalidOperationException($"Server state vector '{name}' holds {vector.Length} values; {length} were asked for.");
        return vector;
    }

    /// <summary>Whether the vector <paramref name="name"/> exists.</summary>
    public bool Has(string name) => _vectors.ContainsKey(name);

    /// <summary>An independent copy.</summary>
    public ServerState Clone()
    {
        var copy = new ServerState(Strategy) { Rounds = Rounds };
        foreach (var (name, vector) in _vectors) copy._vectors.Add(name, (float[])vector.Clone());
        return copy;
    }

    /// <summary>The state as bytes (see the remarks for the format).</summary>
    public byte[] Encode()
    {
        int size = 4 + 2 + 1 + Encoding.UTF8.GetByteCount(Strategy) + 8 + 4;
        foreach (var (name, vector) in _vectors) size += 1 + Encoding.UTF8.GetByteCount(name) + 4 + vector.Length * sizeof(float);
        size += 4;
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        int at = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(span[at..], Magic);
        at += 4;
        BinaryPrimitives.WriteUInt16LittleEndian(span[at..], FormatVersion);
        at += 2;
        at += WriteName(span[at..], Strategy);
        BinaryPrimitives.WriteInt64LittleEndian(span[at..], Rounds);
        at += 8;
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], _vectors.Count);
        at += 4;
        foreach (var (name, vector) in _vectors)
        {
            at += WriteName(span[at..], name);
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], vector.Length);
            at += 4;
            WeightBytes.Write(vector, span.Slice(at, vector.Length * sizeof(float)));
            at += vector.Length * sizeof(float);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(span[at..], Crc32C.HashToUInt32(span[..at]));
        return bytes;
    }

    /// <summary>Reads a state written by <see cref="Encode"/>, checking it belongs to <paramref name="strategy"/> and every vector has <paramref name="vectorLength"/> finite values.</summary>
    /// <exception cref="InvalidDataException">The bytes are not such a state; the message says what is wrong.</exception>
    public static ServerState Decode(ReadOnlySpan<byte> bytes, string strategy, int vectorLength)
    {
        if (bytes.Length < 4 + 2 + 1 + 8 + 4 + 4) throw new InvalidDataException($"A server state is at least 23 bytes; got {bytes.Length}.");
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic) throw new InvalidDataException("Not a server state (bad magic).");
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes[^4..]);
        if (Crc32C.HashToUInt32(bytes[..^4]) != crc) throw new InvalidDataException("The server state's CRC-32C does not match its bytes.");
        var body = bytes[..^4];
        int at = 4;
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(body[at..]);
        at += 2;
        if (version != FormatVersion) throw new InvalidDataException($"Server state format version {version} is not supported (only {FormatVersion}).");
        string owner = ReadName(body, ref at);
        if (owner != strategy) throw new InvalidDataException($"The stored server state belongs to strategy '{owner}', not '{strategy}'.");
        var state = new ServerState(owner) { Rounds = ReadInt64(body, ref at) };
        if (state.Rounds < 0) throw new InvalidDataException($"The server state counts {state.Rounds} rounds.");
        int count = ReadInt32(body, ref at);
        if (count < 0 || count > 64) throw new InvalidDataException($"The server state lists {count} vectors (0 to 64 allowed).");
        for (int i = 0; i < count; i++)
        {
            string name = ReadName(body, ref at);
            if (name.Length == 0 || state._vectors.ContainsKey(name)) throw new InvalidDataException($"Server state vector {i} has an empty or repeated name '{name}'.");
            int length = ReadInt32(body, ref at);
            if (length != vectorLength) throw new InvalidDataException($"Server state vector '{name}' holds {length} values; the model has {vectorLength}.");
            if ((long)length * sizeof(float) > body.Length - at) throw new InvalidDataException($"Server state vector '{name}' runs past the end.");
            var vector = new float[length];
            WeightBytes.Read(body.Slice(at, length * sizeof(float)), vector);
            at += length * sizeof(float);
            for (int j = 0; j < vector.Length; j++)
                if (!float.IsFinite(vector[j])) throw new InvalidDataException($"Server state vector '{name}' holds a non-finite value at {j}.");
            state._vectors.Add(name, vector);
        }
        if (at != body.Length) throw new InvalidDataException($"The server state has {body.Length - at} bytes after its last vector.");
        return state;
    }

    private static int WriteName(Span<byte> destination, string name)
    {
        int length = Encoding.UTF8.GetBytes(name, destination[1..]);
        destination[0] = (byte)length;
        return 1 + length;
    }

    private static string ReadName(ReadOnlySpan<byte> body, ref int at)
    {
        if (at >= body.Length) throw new InvalidDataException("The server state ends inside a name.");
        int length = body[at];
        if (length > body.Length - at - 1) throw new InvalidDataException("A name in the server state runs past the end.");
        var name = Encoding.UTF8.GetString(body.Slice(at + 1, length));
        at += 1 + length;
        return name;
    }

    private static long ReadInt64(ReadOnlySpan<byte> body, ref int at)
    {
        if (body.Length - at < 8) throw new InvalidDataException("The server state ends early.");
        long value = BinaryPrimitives.ReadInt64LittleEndian(body[at..]);
        at += 8;
        return value;
    }

    private static int ReadInt32(ReadOnlySpan<byte> body, ref int at)
    {
        if (body.Length - at < 4) throw new InvalidDataException("The server state ends early.");
        int value = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
        at += 4;
        return value;
    }
}
