using Offload.Core.Model;

namespace Offload.Core.Federation;

/// <summary>
/// Every seed a run derives from its seed: one client's local training in one round, and the
/// simulators' own draws (selection, schedules, placement), which take the negative "client" indices
/// named here so that no two streams coincide. Stable across processes and machines (unlike
/// <see cref="HashCode"/>, which is salted per process), so a device in its own process trains
/// exactly as the in-process simulators would, synchronous or asynchronous.
/// </summary>
public static class ClientSeed
{
    /// <summary>The index of a round's client selection (the synchronous and the fixed-delay simulators draw the same).</summary>
    public const int Selection = -1;

    /// <summary>The index of the simulated cluster's draw (node sizes and where devices land).</summary>
    public const int Cluster = -2;

    /// <summary>The index of the round-robin placement baseline's draw.</summary>
    public const int PlacementBaseline = -3;

    /// <summary>The index of the virtual-time schedule's draws (who starts, who is picked next).</summary>
    public const int DeviceSchedule = -4;

    /// <summary>The index of the simulated devices' speeds and bandwidths.</summary>
    public const int DeviceProfiles = -5;

    /// <summary>A 31-bit seed mixed from the run seed, the 1-based round and the client's index (SplitMix64 finaliser).</summary>
    public static int For(int runSeed, long round, int clientIndex)
    {
        ulong x = (ulong)(uint)runSeed;
        x = Mix(x ^ Mix((ulong)round + 0x9E3779B97F4A7C15UL));
        x = Mix(x ^ Mix((ulong)(uint)clientIndex + 0xD1B54A32D192ED03UL));
        return (int)(x & int.MaxValue);
    }

    /// <summary>
    /// The training seed of a task that trains from <paramref name="baseVersion"/>: that of round
    /// base + 1, the round whose task trains from it in synchronous rounds. Asynchronous tasks are
    /// numbered the same way, so a device given version v trains alike in either mode and in the simulators.
    /// </summary>
    public static int ForTask(int runSeed, ModelVersion baseVersion, int clientIndex) => For(runSeed, baseVersion.Value + 1, clientIndex);

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
