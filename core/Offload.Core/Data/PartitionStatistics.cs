namespace Offload.Core.Data;

/// <summary>
/// Per-client label counts of a split, to show (and test) how non-IID it is before any training
/// is spent on it.
/// </summary>
public static class PartitionStatistics
{
    /// <summary>For each partition, how many of its samples carry each label: result[client][label].</summary>
    /// <exception cref="ArgumentException">A partition holds an index outside the labels, or a label is not below <paramref name="classCount"/>.</exception>
    public static int[][] LabelHistograms(IReadOnlyList<Partition> partitions, ReadOnlySpan<byte> labels, int classCount)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        var histograms = new int[partitions.Count][];
        for (int k = 0; k < partitions.Count; k++)
        {
            var counts = new int[classCount];
            ReadOnlySpan<int> indices = partitions[k].Indices;
            for (int i = 0; i < indices.Length; i++)
            {
                int index = indices[i];
                if ((uint)index >= (uint)labels.Length)
                    throw new ArgumentException($"Partition {k} holds sample index {index}, outside 0..{labels.Length - 1}.", nameof(partitions));
                int label = labels[index];
                if (label >= classCount)
                    throw new ArgumentException($"Label {label} of sample {index} is not below the class count {classCount}.", nameof(labels));
                counts[label]++;
            }
            histograms[k] = counts;
        }
        return histograms;
    }

    /// <summary>Label histograms of a split of <paramref name="data"/>.</summary>
    public static int[][] LabelHistograms(IReadOnlyList<Partition> partitions, ImageDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return LabelHistograms(partitions, data.Labels, data.ClassCount);
    }

    /// <summary>
    /// Mean over clients of the fraction of a client's samples that carry its most common label:
    /// about 1/classCount for an IID split, 1 when every client holds a single label.
    /// </summary>
    public static double MeanDominantLabelFraction(int[][] histograms)
    {
        ArgumentNullException.ThrowIfNull(histograms);
        if (histograms.Length == 0) throw new ArgumentException("There are no client histograms to average.", nameof(histograms));
        double sum = 0;
        for (int k = 0; k < histograms.Length; k++)
        {
            int max = 0, total = 0;
            foreach (int count in histograms[k])
            {
                total += count;
                if (count > max) max = count;
            }
            if (total == 0) throw new ArgumentException($"Client {k} has no samples; a dominant label is undefined.", nameof(histograms));
            sum += (double)max / total;
        }
        return sum / histograms.Length;
    }
}
