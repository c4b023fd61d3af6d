using CsCheck;
using Offload.Core.Codec;

namespace Offload.Core.Tests.Codec;

public class TopZSelectorTests
{
    /// <summary>The reference: sort by magnitude descending, ties by position, take k, sort positions.</summary>
    private static int[] Reference(float[] values, int kept)
    {
        var order = Enumerable.Range(0, values.Length)
            .OrderByDescending(i => Math.Abs(values[i])).ThenBy(i => i)
            .Take(kept).Order().ToArray();
        return order;
    }

    private static readonly Gen<(float[] Values, int Kept)> Cases =
        Gen.Select(Gen.Int[1, 5000], Gen.Int, Gen.Int[0, 3], Gen.Double[0.0001, 1.0], (n, seed, style, z) =>
        {
            var random = new Random(seed);
            var values = new float[n];
            for (int i = 0; i < n; i++)
                values[i] = style switch
                {
                    0 => (float)(random.NextDouble() - 0.5),
                    1 => random.Next(4) - 1.5f,                            // four values: heavy ties
                    2 => random.Next(2) == 0 ? 0f : (i % 2 == 0 ? -0f : 0f), // zeros of both signs
                    _ => BitConverter.Int32BitsToSingle(random.Next(0x7F7FFFFF)) * (random.Next(2) * 2 - 1), // any finite magnitude
                };
            return (values, Math.Clamp((int)Math.Ceiling(z * n), 1, n));
        });

    [Fact]
    public void Select_MatchesSortReference_IncludingTies()
    {
        SeededSample.Run(Cases, 11, 400, c =>
        {
            var positions = new int[c.Kept];
            TopZSelector.Select(c.Values, c.Kept, positions);
            Assert.Equal(Reference(c.Values, c.Kept), positions);
        });
    }

    [Fact]
    public void Select_AllEqual_KeepsTheFirstK()
    {
        var values = Enumerable.Repeat(0.25f, 1000).ToArray();
        var positions = new int[37];
        TopZSelector.Select(values, 37, positions);
        Assert.Equal(Enumerable.Range(0, 37), positions);
    }

    [Fact]
    public void Select_LargeGaussian_KeepsExactlyKLargest()
    {
        const int n = 1_000_003;
        var random = new Random(3);
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float)(0.01 * (random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5));
        int kept = 10_000;
        var positions = new int[kept];
        TopZSelector.Select(values, kept, positions);

        var magnitudes = values.Select(Math.Abs).ToArray();
        Array.Sort(magnitudes);
        float threshold = magnitudes[n - kept];
        Assert.All(positions, p => Assert.True(Math.Abs(values[p]) >= threshold));
        for (int i = 1; i < kept; i++) Assert.True(positions[i] > positions[i - 1]);
    }
}
