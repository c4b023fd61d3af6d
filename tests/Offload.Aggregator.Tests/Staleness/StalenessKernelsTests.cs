using Offload.Aggregator.Staleness;

namespace Offload.Aggregator.Tests.Staleness;

public class StalenessKernelsTests
{
    [Theory]
    [InlineData(0, 0.5, 1.0)]
    [InlineData(3, 0.5, 0.5)]        // (1+3)^-0.5
    [InlineData(8, 0.5, 1.0 / 3)]    // (1+8)^-0.5
    [InlineData(1, 1.0, 0.5)]
    [InlineData(40, 0.0, 1.0)]
    public void Polynomial_weight_is_one_plus_tau_to_the_minus_a(long tau, double a, double expected) =>
        Assert.Equal(expected, StalenessKernels.Polynomial(tau, a), 12);

    [Theory]
    [InlineData(0, 10, 4, 1.0)]
    [InlineData(4, 10, 4, 1.0)]             // Up to b: full weight.
    [InlineData(5, 10, 4, 1.0 / 11)]        // 1 / (10 * 1 + 1)
    [InlineData(40, 10, 4, 1.0 / 361)]      // 1 / (10 * 36 + 1)
    [InlineData(10, 0.5, 2, 0.2)]           // 1 / (0.5 * 8 + 1)
    public void Hinge_weight_is_one_up_to_b_then_one_over_a_times_excess_plus_one(long tau, double a, long b, double expected) =>
        Assert.Equal(expected, StalenessKernels.Hinge(tau, a, b), 12);

    [Fact]
    public void Weights_reject_bad_parameters()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => StalenessKernels.Polynomial(-1, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => StalenessKernels.Polynomial(1, -0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => StalenessKernels.Polynomial(1, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => StalenessKernels.Hinge(1, -1, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => StalenessKernels.Hinge(1, 10, -4));
    }

    [Fact]
    public void Dc_asgd_matches_hand_computed_vector()
    {
        float[] delta = [0.5f, -1f, 2f, 0f];
        float[] current = [1f, 2f, 3f, 4f];
        float[] @base = [0f, 2.5f, 2f, -4f];
        // drift = current - base = [1, -0.5, 1, 8]; delta^2 = [0.25, 1, 4, 0]
        // out = delta - 0.1 * delta^2 * drift = [0.5 - 0.025, -1 + 0.05, 2 - 0.4, 0]
        var output = new float[4];
        StalenessKernels.DcAsgd(delta, current, @base, 0.1f, output);
        Assert.Equal([0.475f, -0.95f, 1.6f, 0f], output.Select(v => MathF.Round(v, 6)).ToArray());
        Assert.Equal([0.5f, -1f, 2f, 0f], delta); // The input is not touched.
    }

    [Fact]
    public void Dc_asgd_handles_long_vectors_in_chunks_and_may_work_in_place()
    {
        int n = 10_000; // Longer than one stack chunk.
        var random = new Random(3);
        var delta = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var current = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray();
        var @base = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray();
        var expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = delta[i] - 0.7f * delta[i] * delta[i] * (current[i] - @base[i]);
        StalenessKernels.DcAsgd(delta, current, @base, 0.7f, delta);
        for (int i = 0; i < n; i++) Assert.Equal(expected[i], delta[i], 1e-6f);
    }

    [Fact]
    public void Dc_asgd_rejects_mismatched_lengths_and_bad_lambda()
    {
        Assert.Throws<ArgumentException>(() => StalenessKernels.DcAsgd(new float[3], new float[3], new float[2], 1f, new float[3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => StalenessKernels.DcAsgd(new float[3], new float[3], new float[3], -1f, new float[3]));
    }

    [Fact]
    public void Relative_error_is_norm_of_difference_over_norm_of_reference()
    {
        Assert.Equal(0.5, StalenessKernels.RelativeError([3f, 4f], [3f, 1.5f]), 9); // |(0, 2.5)| / 5
        Assert.Equal(0, StalenessKernels.RelativeError([0f, 0f], [0f, 0f]));
        Assert.Equal(double.PositiveInfinity, StalenessKernels.RelativeError([0f], [1f]));
    }
}
