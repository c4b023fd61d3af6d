using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.Staleness;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Strategies;

/// <summary>FedBuff's staleness weighting, which travels with its name to the Dapr leaves.</summary>
public sealed class FedBuffTests
{
    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(3, 0.5)]
    [InlineData(8, 1.0 / 3)]
    public void The_polynomial_weighting_scales_as_FedAsyncs(long staleness, double expected)
    {
        var strategy = Assert.IsType<FedBuff>(StrategyCatalog.Parse("fedbuff:k=4,poly=0.5"));
        var receipt = new UpdateReceipt(10, new ModelVersion(5), new ModelVersion(5 + staleness));
        Assert.Equal(expected, strategy.ScaleOf(receipt), 12);
        Assert.Equal(new PolynomialStalenessWeighting(0.5).WeightOf(staleness), strategy.ScaleOf(receipt), 12);
        Assert.Equal(10, strategy.WeightOf(receipt)); // The weight stays the sample count: the scale is not in the mean's denominator.
    }

    [Theory]
    [InlineData(2, 1.0)]
    [InlineData(4, 1.0)]
    [InlineData(6, 1.0 / 21)]
    public void The_hinge_weighting_keeps_full_weight_up_to_b(long staleness, double expected)
    {
        var strategy = Assert.IsType<FedBuff>(StrategyCatalog.Parse("fedbuff:k=4,hinge=10,b=4"));
        Assert.Equal(expected, strategy.ScaleOf(new UpdateReceipt(1, ModelVersion.Initial, new ModelVersion(staleness))), 12);
    }

    [Fact]
    public void Without_a_weighting_every_update_keeps_full_scale_and_the_name_is_unchanged()
    {
        var strategy = new FedBuff(5);
        Assert.Equal("fedbuff:k=5,eta=1", strategy.Name);
        Assert.Equal(1.0, strategy.ScaleOf(new UpdateReceipt(1, ModelVersion.Initial, new ModelVersion(40))));
    }

    [Fact]
    public void A_scaled_fold_moves_the_sum_but_not_the_total_weight()
    {
        var layout = TensorLayout.Create([("w", new[] { 4 })]);
        using var core = new AggregatorCore(layout, new AggregatorAddress(1, 0, 0), 2);
        var payload = IdentityCodec.Instance.Encode([1f, 2f, 3f, 4f], layout);
        core.FoldEncoded("a", IdentityCodec.Instance, payload, weight: 10, scale: 0.5);
        core.FoldEncoded("b", IdentityCodec.Instance, payload, weight: 10);
        using var partial = core.Emit();
        Assert.Equal(20, partial.TotalWeight);
        Assert.Equal([15f, 30f, 45f, 60f], partial.Sum.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => new AggregatorCore(layout, new AggregatorAddress(1, 0, 1), 1)
            .FoldEncoded("c", IdentityCodec.Instance, payload, weight: 1, scale: double.NaN));
    }
}
