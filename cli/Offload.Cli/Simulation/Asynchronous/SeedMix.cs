namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>Seeds derived from a run's seed and some indices, stable across processes (unlike <see cref="HashCode"/>, which is randomised per process).</summary>
internal static class SeedMix
{
    /// <summary>A non-negative seed mixing <paramref name="seed"/> with <paramref name="a"/> and <paramref name="b"/> (SplitMix64 finaliser).</summary>
    public static int Of(int seed, long a, long b = 0)
    {
        ulong x = (ulong)(uint)seed + 0x9E3779B97F4A7C15UL * (ulong)(a + 1) + 0xD1B54A32D192ED03UL * (ulong)(b + 1);
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return (int)(x & 0x7FFFFFFF);
    }
}
