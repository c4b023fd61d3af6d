using CsCheck;
using Offload.Aggregator.Kernels;

namespace Offload.Aggregator.Tests.Kernels;

public class AggregationKernelsTests
{
    [Fact]
    public void WeightedAccumulate_matches_hand_computed_values()
    {
        float[] acc = { 1, 2, 3 };
        AggregationKernels.WeightedAccumulate(acc, new float[] { 10, -4, 0.5f }, 0.5f);
        Assert.Equal(new float[] { 6, 0, 3.25f }, acc);
    }

    [Fact]
    public void WeightedAccumulate_rejects_length_mismatch_without_touching_the_accumulator()
    {
        float[] acc = { 1, 2 };
        Assert.Throws<ArgumentException>(() => AggregationKernels.WeightedAccumulate(acc, new float[3], 1));
        Assert.Equal(new float[] { 1, 2 }, acc);
    }

    [Fact]
    public void WeightedMean_divides_by_total_weight_and_rejects_bad_totals()
    {
        var mean = new float[2];
        AggregationKernels.WeightedMean(new float[] { 9, -3 }, 3, mean);
        Assert.Equal(new float[] { 3, -1 }, mean);
        Assert.Throws<ArgumentOutOfRangeException>(() => AggregationKernels.WeightedMean(new float[2], 0, mean));
        Assert.Throws<ArgumentOutOfRangeException>(() => AggregationKernels.WeightedMean(new float[2], double.NaN, mean));
    }

    [Fact]
    public void WeightedAccumulate_equals_scalar_reference_for_every_length()
    {
        // Lengths around SIMD widths exercise vector bodies and scalar tails.
        Gen.Select(Gen.Float[-100, 100].Array[0, 300], Gen.Float[-4, 4])
            .Sample((values, w) =>
            {
                var acc = new float[values.Length];
                for (int i = 0; i < acc.Length; i++) acc[i] = i * 0.25f;
                var expected = (float[])acc.Clone();
                for (int i = 0; i < expected.Length; i++) expected[i] = MathF.FusedMultiplyAdd(values[i], w, expected[i]);
                AggregationKernels.WeightedAccumulate(acc, values, w);
                for (int i = 0; i < acc.Length; i++)
                    Assert.True(Math.Abs(acc[i] - expected[i]) <= 1e-4f * (1 + Math.Abs(expected[i])), $"index {i}: {acc[i]} vs {expected[i]}");
            }, seed: "0N0XIzNsQ0O2", iter: 500);
    }
}
