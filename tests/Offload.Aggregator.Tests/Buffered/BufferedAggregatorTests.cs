using Offload.Aggregator.Buffered;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Buffered;

public class BufferedAggregatorTests
{
    private static readonly TensorLayout Two = TensorLayout.Create([("w", new[] { 2 })]);

    private static ModelVersion V(long v) => new(v);

    [Fact]
    public void Folds_every_k_arrivals_into_a_new_version()
    {
        using var server = new BufferedAggregator(new FedBuffOptions { BufferSize = 3, HistoryWindow = 4 }, Two, [1f, 1f]);
        Assert.Equal(V(0), server.CurrentVersion);
        Assert.False(server.Fold([3f, 0f], 10, V(0)).Published);
        Assert.False(server.Fold([0f, 3f], 10, V(0)).Published);
        Assert.Equal(2, server.Buffered);
        Assert.Equal([1f, 1f], server.CurrentWeights.ToArray()); // Nothing applied before K arrivals.
        var third = server.Fold([3f, 3f], 10, V(0));
        Assert.True(third.Published);
        Assert.Equal(V(1), third.Version);
        Assert.Equal([3f, 3f], server.CurrentWeights.ToArray()); // 1 + mean(3, 0, 3) = 3.
        Assert.Equal(0, server.Buffered);
        for (int i = 0; i < 3; i++) server.Fold([0f, 0f], 1, V(1));
        Assert.Equal(V(2), server.CurrentVersion);
    }

    [Fact]
    public void Mean_is_sample_weighted_and_a_staleness_scale_shrinks_the_step_without_renormalising()
    {
        using var server = new BufferedAggregator(new FedBuffOptions { BufferSize = 2, HistoryWindow = 2 }, Two, [0f, 0f]);
        server.Fold([4f, 0f], 30, V(0));
        server.Fold([0f, 4f], 10, V(0), stalenessScale: 0.5);
        // sum(n s delta) / sum(n) = (30*4, 10*0.5*4) / 40 = (3, 0.5)
        Assert.Equal([3f, 0.5f], server.CurrentWeights.ToArray());
    }

    [Fact]
    public void Window_of_past_models_stays_bounded_and_evicts_the_oldest()
    {
        int window = 3;
        using var server = new BufferedAggregator(new FedBuffOptions { BufferSize = 1, HistoryWindow = window }, Two, [0f, 0f]);
        for (int v = 0; v < 10; v++)
        {
            server.Fold([1f, 0f], 1, server.CurrentVersion);
            Assert.True(server.History.Count <= window);
        }
        Assert.Equal(V(10), server.CurrentVersion);
        Assert.Equal(V(8), server.History.Oldest);
        Assert.Equal(window * 2L * sizeof(float), server.History.PeakBytesHeld);
        Assert.Equal(8, server.History.Evicted);
        Assert.True(server.History.TryGet(V(9), out var nine));
        Assert.Equal([9f, 0f], nine.ToArray());
        Assert.False(server.History.TryGet(V(7), out _));
    }

    [Fact]
    public void Update_from_a_version_that_left_the_window_is_dropped_but_counts_as_an_arrival()
    {
        using var server = new BufferedAggregator(new FedBuffOptions { BufferSize = 1, HistoryWindow = 2 }, Two, [0f, 0f]);
        server.Fold([1f, 1f], 1, V(0));
        server.Fold([1f, 1f], 1, V(1));                   // Now at v2; window holds v1, v2.
        var stale = server.Fold([100f, 100f], 1, V(0));
        Assert.False(stale.Accepted);
        Assert.Equal(2, stale.Staleness);
        Assert.True(stale.Published);                     // K = 1 arrival: the version moves on, the model does not.
        Assert.Equal([2f, 2f], server.CurrentWeights.ToArray());
        Assert.Equal(1, server.Dropped);
        Assert.Equal(2, server.Accepted);
    }

    [Fact]
    public void Refused_update_leaves_the_buffer_unchanged()
    {
        using var server = new BufferedAggregator(new FedBuffOptions { BufferSize = 2, HistoryWindow = 2 }, Two, [0f, 0f]);
        server.Fold([2f, 2f], 1, V(0));
        Assert.Throws<ArgumentException>(() => server.Fold([float.NaN, 0f], 1, V(0)));
        Assert.Throws<ArgumentException>(() => server.Fold([1f], 1, V(0)));
        Assert.Throws<ArgumentException>(() => server.Fold([1f, 1f], 1, V(3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => server.Fold([1f, 1f], 0, V(0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => server.Fold([1f, 1f], 1, V(0), 0));
        Assert.Equal(1, server.Buffered);
        server.Discard(V(0));                             // A host-refused arrival still closes the buffer,
        Assert.Equal(V(1), server.CurrentVersion);
        Assert.Equal([2f, 2f], server.CurrentWeights.ToArray()); // and does not dilute the mean.
    }

    [Fact]
    public void Options_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedBuffOptions { BufferSize = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedBuffOptions { HistoryWindow = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedBuffOptions { ServerLearningRate = double.NaN }.Validate());
        Assert.Throws<ArgumentException>(() => new BufferedAggregator(new FedBuffOptions(), Two, [float.PositiveInfinity, 0f]));
    }

    [Fact]
    public void History_accepts_only_the_next_version()
    {
        var history = new ModelHistory(Two, 2);
        history.Publish(V(0), [0f, 0f]);
        Assert.Throws<ArgumentException>(() => history.Publish(V(2), [0f, 0f]));
        Assert.Throws<ArgumentException>(() => history.Publish(V(1), [0f]));
    }
}
