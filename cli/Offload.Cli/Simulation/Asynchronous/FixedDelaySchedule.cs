using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>
/// The fixed-delay setup of Wang and Gao (2023): each round a seeded sample of clients trains; the
/// clients marked delayed always train from the model <see cref="Delay"/> versions old (the initial
/// model while fewer versions exist), the others from the current one. One round is one buffer.
/// </summary>
public sealed class FixedDelaySchedule : IArrivalSchedule
{
    private readonly bool[] _delayed;
    private readonly int _seed;
    private long _expected;

    /// <summary>Creates the schedule.</summary>
    /// <param name="clientCount">Clients to sample from.</param>
    /// <param name="clientsPerRound">Clients per round, the buffer size.</param>
    /// <param name="delayed">Which clients are stale (length <paramref name="clientCount"/>).</param>
    /// <param name="delay">Versions of staleness of the delayed clients (tau).</param>
    /// <param name="seed">Seeds the per-round selection.</param>
    /// <exception cref="ArgumentException">The delayed flags do not cover the clients.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range or the delay is negative.</exception>
    public FixedDelaySchedule(int clientCount, int clientsPerRound, IReadOnlyList<bool> delayed, int delay, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clientCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(clientsPerRound, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(clientsPerRound, clientCount);
        ArgumentOutOfRangeException.ThrowIfNegative(delay);
        ArgumentNullException.ThrowIfNull(delayed);
        if (delayed.Count != clientCount) throw new ArgumentException($"{delayed.Count} delay flags for {clientCount} clients.", nameof(delayed));
        ClientCount = clientCount;
        BufferSize = clientsPerRound;
        _delayed = delayed.ToArray();
        Delay = delay;
        _seed = seed;
    }

    /// <summary>Clients sampled from.</summary>
    public int ClientCount { get; }

    /// <summary>Staleness of the delayed clients (tau).</summary>
    public int Delay { get; }

    /// <inheritdoc/>
    public int BufferSize { get; }

    /// <summary>The clients of round <paramref name="round"/> (1-based), ascending; the same for every strategy with the same seed.</summary>
    public int[] Select(long round)
    {
        var all = new int[ClientCount];
        for (int i = 0; i < all.Length; i++) all[i] = i;
        new Random(ClientSeed.For(_seed, round, ClientSeed.Selection)).Shuffle(all); // The synchronous simulator's selection of the same round.
        var chosen = all.AsSpan(0, BufferSize).ToArray();
        Array.Sort(chosen);
        return chosen;
    }

    /// <inheritdoc/>
    public IReadOnlyList<Arrival> NextBuffer(ModelVersion current)
    {
        if (current.Value != _expected) throw new ArgumentException($"Expected version v{_expected}, got {current}.", nameof(current));
        _expected++;
        long round = current.Value + 1;
        var stale = new ModelVersion(Math.Max(0, current.Value - Delay));
        return Array.ConvertAll(Select(round), c => new Arrival(c, _delayed[c] ? stale : current, round));
    }
}
