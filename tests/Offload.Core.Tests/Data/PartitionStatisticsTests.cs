using Offload.Core.Data;

namespace Offload.Core.Tests.Data;

public sealed class PartitionStatisticsTests
{
    private static readonly byte[] Labels = [0, 0, 1, 2, 2, 2];

    [Fact]
    public void Histograms_count_each_clients_labels()
    {
        Partition[] split = [new(0, [0, 2, 3]), new(1, [1, 4, 5])];
        int[][] histograms = PartitionStatistics.LabelHistograms(split, Labels, 3);
        Assert.Equal([[1, 1, 1], [1, 0, 2]], histograms);
    }

    [Fact]
    public void Mean_dominant_label_fraction_is_hand_computed()
    {
        // Client 0: 1/3 (three labels, one each); client 1: 2/3. Mean 0.5.
        Assert.Equal(0.5, PartitionStatistics.MeanDominantLabelFraction([[1, 1, 1], [1, 0, 2]]), 12);
        Assert.Equal(1.0, PartitionStatistics.MeanDominantLabelFraction([[0, 4, 0]]), 12);
    }

    [Fact]
    public void An_index_outside_the_labels_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => PartitionStatistics.LabelHistograms([new Partition(3, [6])], Labels, 3));
        Assert.Contains("Partition 0 holds sample index 6", e.Message);
    }

    [Fact]
    public void An_empty_client_has_no_dominant_label()
    {
        var e = Assert.Throws<ArgumentException>(() => PartitionStatistics.MeanDominantLabelFraction([[1], [0]]));
        Assert.Contains("Client 1", e.Message);
    }
}
