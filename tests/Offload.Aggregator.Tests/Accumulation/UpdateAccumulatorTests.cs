using Offload.Aggregator.Accumulation;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Accumulation;

public class UpdateAccumulatorTests
{
    private static readonly TensorLayout Layout = TensorLayout.Create(new[] { ("w", new[] { 2, 2 }), ("b", new[] { 1 }) });

    [Fact]
    public void Mean_is_the_sample_weighted_average()
    {
        using var acc = new UpdateAccumulator(Layout);
        acc.Add(new float[] { 1, 1, 1, 1, 1 }, 1);
        acc.Add(new float[] { 4, 0, -2, 1, 7 }, 3);
        var mean = new float[5];
        acc.MeanInto(mean);
        Assert.Equal(new float[] { 13 / 4f, 1 / 4f, -5 / 4f, 1, 22 / 4f }, mean);
        Assert.Equal(2, acc.Count);
        Assert.Equal(4, acc.TotalWeight);
    }

    [Fact]
    public void Invalid_updates_are_refused_and_leave_the_sum_unchanged()
    {
        using var acc = new UpdateAccumulator(Layout);
        acc.Add(new float[] { 1, 2, 3, 4, 5 }, 2);
        var before = acc.Sum.ToArray();
        Assert.Throws<ArgumentException>(() => acc.Add(new float[4], 1));
        Assert.Throws<ArgumentException>(() => acc.Add(new float[] { 0, float.NaN, 0, 0, 0 }, 1));
        Assert.Throws<ArgumentException>(() => acc.Add(new float[] { 0, 0, float.PositiveInfinity, 0, 0 }, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => acc.Add(new float[5], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => acc.Add(new float[5], double.PositiveInfinity));
        Assert.Equal(before, acc.Sum.ToArray());
        Assert.Equal(1, acc.Count);
    }

    [Fact]
    public void Mean_without_updates_is_an_error_and_reset_empties()
    {
        using var acc = new UpdateAccumulator(Layout);
        Assert.Throws<InvalidOperationException>(() => acc.MeanInto(new float[5]));
        acc.Add(new float[] { 1, 1, 1, 1, 1 }, 1);
        acc.Reset();
        Assert.Equal(0, acc.Count);
        Assert.All(acc.Sum.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_pooled_buffer_from_a_previous_user_starts_clean()
    {
        var big = TensorLayout.Create(new[] { ("w", new[] { 1000 }) });
        using (var dirty = new UpdateAccumulator(big))
        {
            var ones = new float[1000];
            Array.Fill(ones, 1f);
            dirty.Add(ones, 5);
        }
        using var fresh = new UpdateAccumulator(big);
        Assert.All(fresh.Sum.ToArray(), v => Assert.Equal(0f, v));
    }
}
