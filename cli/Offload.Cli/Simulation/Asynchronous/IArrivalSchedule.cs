using Offload.Core.Model;

namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>
/// Who arrives at the server, from which model version, in what order. In virtual time the order
/// depends only on device speeds and the server's buffer size, never on training results, so a
/// schedule is computed ahead of training and the simulation stays deterministic by seed.
/// </summary>
public interface IArrivalSchedule
{
    /// <summary>Arrivals folded into each new version (K).</summary>
    int BufferSize { get; }

    /// <summary>
    /// The next <see cref="BufferSize"/> arrivals, in arrival order: the buffer that turns
    /// <paramref name="current"/> into the next version. Every arrival's base version is at most
    /// <paramref name="current"/>. Calls must come with consecutive versions from <see cref="ModelVersion.Initial"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="current"/> is not the version the schedule expects next.</exception>
    IReadOnlyList<Arrival> NextBuffer(ModelVersion current);
}
