using Offload.Aggregator.Accumulation;
using Offload.Aggregator.Strategies;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Strategies;

public class FedAvgTests
{
    [Fact]
    public void Round_of_three_clients_matches_hand_computation()
    {
        // Clients with 10, 30 and 60 samples; the global model moves by the sample-weighted mean.
        var layout = TensorLayout.Create(new[] { ("w", new[] { 3 }) });
        var strategy = new FedAvg();
        float[] global = { 1, 1, 1 };
        using var acc = new UpdateAccumulator(layout);
        var v = ModelVersion.Initial;
        acc.Add(new float[] { 1, 0, 0 }, strategy.WeightOf(new UpdateReceipt(10, v, v)));
        acc.Add(new float[] { 0, 1, 0 }, strategy.WeightOf(new UpdateReceipt(30, v, v)));
        acc.Add(new float[] { 0, 0, 1 }, strategy.WeightOf(new UpdateReceipt(60, v, v)));
        var mean = new float[3];
        acc.MeanInto(mean);
        strategy.Aggregate(mean, 3, global, strategy.InitialState());
        Assert.Equal(1.1f, global[0], 6);
        Assert.Equal(1.3f, global[1], 6);
        Assert.Equal(1.6f, global[2], 6);
    }

    [Fact]
    public void Server_learning_rate_scales_the_step_and_is_validated()
    {
        float[] global = { 0, 0 };
        var half = new FedAvg(serverLearningRate: 0.5);
        half.Aggregate(new float[] { 2, -4 }, 1, global, half.InitialState());
        Assert.Equal(new float[] { 1, -2 }, global);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedAvg(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedAvg(double.NaN));
    }

    [Fact]
    public void Weight_is_the_sample_count_and_must_be_positive()
    {
        var v = ModelVersion.Initial;
        Assert.Equal(42, new FedAvg().WeightOf(new UpdateReceipt(42, v, v)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedAvg().WeightOf(new UpdateReceipt(0, v, v)));
    }
}
