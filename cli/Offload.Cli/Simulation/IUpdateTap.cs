namespace Offload.Cli.Simulation;

/// <summary>
/// Sees every client update and the payload that carried it, for experiments that measure other
/// encodings of the very same updates. Called from worker threads: implementations must be thread-safe.
/// </summary>
public interface IUpdateTap
{
    /// <summary>Client <paramref name="client"/>'s dense <paramref name="update"/> in <paramref name="round"/> went out as <paramref name="payload"/>.</summary>
    void Encoded(int round, int client, ReadOnlySpan<float> update, ReadOnlySpan<byte> payload);
}
