namespace Offload.Core.Federation;

/// <summary>
/// The seed of one client's local training in one round, derived from the run's seed. Stable across
/// processes and machines (unlike <see cref="HashCode"/>, which is salted per process), so a device
/// in its own process trains exactly as the in-process simulator would.
/// </summary>
public static class ClientSeed
{
    /// <summary>A 31-bit seed mixed from the run seed, the 1-based round and the client's index (SplitMix64 finaliser).</summary>
    public static int For(int runSeed, long round, int clientIndex)
    {
        ulong x = (ulong)(uint)runSeed;
        x = Mix(x ^ Mix((ulong)round + 0x9E3779B97F4A7C15UL));
        x = Mix(x ^ Mix((ulong)(uint)clientIndex + 0xD1B54A32D192ED03UL));
        return (int)(x & int.MaxValue);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
