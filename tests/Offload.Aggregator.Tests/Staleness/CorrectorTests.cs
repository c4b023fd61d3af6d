using Offload.Aggregator.Staleness;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Staleness;

public class CorrectorTests
{
    [Fact]
    public void Unweighted_keeps_every_update_at_full_weight()
    {
        var delta = new float[] { 1, 2 };
        var c = new UnweightedCorrector().Correct(StaleUpdates.Of(delta, 0, 40));
        Assert.Equal(CorrectionOutcome.Unchanged, c.Outcome);
        Assert.Equal(1.0, c.Scale);
        Assert.Equal(delta, c.Delta.ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(40)]
    public void Fedasync_polynomial_scales_by_its_formula_and_keeps_the_delta(long tau)
    {
        var delta = new float[] { 1, -2 };
        var c = new PolynomialStalenessWeighting(0.5).Correct(StaleUpdates.Of(delta, 0, tau));
        Assert.Equal(CorrectionOutcome.Weighted, c.Outcome);
        Assert.Equal(1 / Math.Sqrt(1 + tau), c.Scale, 12);
        Assert.True(c.Delta.Span.SequenceEqual(delta));
    }

    [Theory]
    [InlineData(3, 1.0)]
    [InlineData(10, 1.0 / 61)]
    [InlineData(40, 1.0 / 361)]
    public void Fedasync_hinge_scales_by_its_formula(long tau, double expected)
    {
        var c = new HingeStalenessWeighting(10, 4).Correct(StaleUpdates.Of([1f], 0, tau));
        Assert.Equal(expected, c.Scale, 12);
        Assert.Equal(expected == 1.0 ? CorrectionOutcome.Unchanged : CorrectionOutcome.Weighted, c.Outcome);
    }

    [Fact]
    public void Fresh_updates_are_left_alone_by_every_built_in_corrector()
    {
        IStalenessCorrector[] correctors = [new UnweightedCorrector(), new PolynomialStalenessWeighting(), new HingeStalenessWeighting(), new DcAsgdCorrector(1)];
        foreach (var corrector in correctors)
        {
            var c = corrector.Correct(StaleUpdates.Of([1f, 2f], 7, 7, [0f, 0f], [5f, 5f]));
            Assert.Equal(CorrectionOutcome.Unchanged, c.Outcome);
            Assert.Equal(1.0, c.Scale);
        }
    }

    [Fact]
    public void Dc_asgd_corrects_with_the_drift_between_base_and_current_models()
    {
        var update = StaleUpdates.Of([0.5f, -1f], 2, 5, baseWeights: [0f, 1f], currentWeights: [2f, 0f]);
        var c = new DcAsgdCorrector(0.5).Correct(update);
        Assert.Equal(CorrectionOutcome.Corrected, c.Outcome);
        // drift (2, -1); delta^2 (0.25, 1): 0.5 - 0.5*0.25*2 = 0.25; -1 - 0.5*1*(-1) = -0.5.
        Assert.Equal([0.25f, -0.5f], c.Delta.ToArray());
        Assert.Equal([0.5f, -1f], update.Delta.ToArray());
    }

    [Fact]
    public void Stale_update_rejects_a_base_ahead_of_the_current_version_and_mismatched_buffers()
    {
        Assert.Throws<ArgumentException>(() => StaleUpdates.Of([1f], 5, 4));
        var layout = StaleUpdates.Layout(2);
        Assert.Throws<ArgumentException>(() => new StaleUpdate(0, layout, new float[2], 1, ModelVersion.Initial, new float[3], ModelVersion.Initial, new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StaleUpdate(0, layout, new float[2], 0, ModelVersion.Initial, new float[2], ModelVersion.Initial, new float[2]));
    }

    [Fact]
    public void Fall_back_keeps_the_fallbacks_delta_and_weight_and_records_the_error()
    {
        var weighted = StalenessCorrection.Weighted(new float[] { 3 }, 0.25);
        var c = StalenessCorrection.FellBack(weighted, 0.9);
        Assert.Equal(CorrectionOutcome.FellBack, c.Outcome);
        Assert.Equal(0.25, c.Scale);
        Assert.Equal(0.9, c.RelativeError);
        Assert.Throws<ArgumentOutOfRangeException>(() => StalenessCorrection.Weighted(new float[1], 0));
    }
}
