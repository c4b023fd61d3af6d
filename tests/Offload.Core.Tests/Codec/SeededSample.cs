using CsCheck;

namespace Offload.Core.Tests.Codec;

/// <summary>
/// Runs a CsCheck generator from a fixed seed, so every run sees the same cases (CsCheck's own
/// <c>Sample</c> seeds only its first iteration). A failure names the iteration and the case.
/// </summary>
internal static class SeededSample
{
    public static void Run<T>(Gen<T> gen, ulong seed, int iterations, Action<T> assert)
    {
        var pcg = new PCG(7, seed);
        for (int i = 0; i < iterations; i++)
        {
            T value = gen.Generate(pcg, null, out _);
            try
            {
                assert(value);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"Case {i} of seed {seed} failed: {e.Message}{Environment.NewLine}Case: {value}{Environment.NewLine}{e}");
            }
        }
    }
}
