namespace Offload.Cli.Benchmarks;

/// <summary>Settings of the gateway ingest benchmark, immutable; <see cref="Validate"/> names the first bad one.</summary>
public sealed record IngestBenchmarkOptions
{
    /// <summary>Concurrent clients, each with its own connection and token; also the updates per round.</summary>
    public int Clients { get; init; } = 64;

    /// <summary>Parameter bytes per update (4 per float32 parameter); the identity codec adds 52 bytes of framing.</summary>
    public int PayloadBytes { get; init; } = 1024 * 1024;

    /// <summary>Measured rounds; one more warm-up round runs first and is not counted.</summary>
    public int Rounds { get; init; } = 10;

    /// <summary>Bytes per upload message.</summary>
    public int ChunkBytes { get; init; } = 256 * 1024;

    /// <summary>
    /// Where the coordinator and gateway journal what they acknowledge (as <c>serve --state</c>), or null
    /// for memory only. The benchmark starts each run with an empty journal there.
    /// </summary>
    public string? StateDirectory { get; init; }

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="InvalidOptionException">The message names the option and its allowed range.</exception>
    public IngestBenchmarkOptions Validate()
    {
        if (Clients < 1 || Clients > 1024) throw new InvalidOptionException($"--clients must be in 1..1024 (got {Clients}).");
        if (PayloadBytes < 4 || PayloadBytes > 256 * 1024 * 1024) throw new InvalidOptionException($"--payload-mb must give 4 B .. 256 MiB (got {PayloadBytes} bytes).");
        if (Rounds < 1) throw new InvalidOptionException($"--rounds must be at least 1 (got {Rounds}).");
        if (ChunkBytes < 1024 || ChunkBytes > 1024 * 1024) throw new InvalidOptionException($"--chunk-kb must be in 1..1024 (got {ChunkBytes / 1024}).");
        return this;
    }
}
