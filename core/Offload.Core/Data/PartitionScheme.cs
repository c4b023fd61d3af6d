namespace Offload.Core.Data;

/// <summary>
/// How a data set is split across simulated clients. Federated results depend heavily on how
/// non-IID the clients' data is, so the split is a named, seeded choice: <see cref="Iid"/>,
/// <see cref="Dirichlet"/> label skew, or McMahan et al.'s label-sorted <see cref="Shards"/>.
/// </summary>
/// <remarks>
/// Every scheme is deterministic for a given seed and assigns each sample to exactly one client;
/// the base class checks that after <see cref="Assign"/>, so a new scheme cannot silently drop or
/// duplicate samples. Each partition's indices are returned in ascending order.
/// </remarks>
public abstract class PartitionScheme
{
    /// <summary>Shuffle and deal out evenly: every client sees the global label distribution.</summary>
    public static PartitionScheme Iid { get; } = new IidScheme();

    /// <summary>Label skew drawn from Dirichlet(<paramref name="alpha"/>) per class; small alpha is very non-IID.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="alpha"/> is not positive and finite.</exception>
    public static PartitionScheme Dirichlet(double alpha) => new DirichletScheme(alpha);

    /// <summary>Label-sorted shards, <paramref name="shardsPerClient"/> per client (McMahan et al. 2017).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="shardsPerClient"/> is below 1.</exception>
    public static PartitionScheme Shards(int shardsPerClient = ShardScheme.DefaultShardsPerClient) => new ShardScheme(shardsPerClient);

    /// <summary>Splits <paramref name="data"/> across <paramref name="clientCount"/> clients.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="clientCount"/> is below 1 or above what the scheme can serve from the data.</exception>
    public IReadOnlyList<Partition> Split(ImageDataset data, int clientCount, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Split(data.Labels, data.ClassCount, clientCount, seed);
    }

    /// <summary>Splits samples with the given <paramref name="labels"/> across <paramref name="clientCount"/> clients.</summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="classCount"/> is not in 1..256, or <paramref name="clientCount"/> is below 1 or above what the scheme can serve.
    /// </exception>
    /// <exception cref="ArgumentException">A label is not below <paramref name="classCount"/>.</exception>
    public IReadOnlyList<Partition> Split(ReadOnlySpan<byte> labels, int classCount, int clientCount, int seed)
    {
        if (classCount < 1 || classCount > 256)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "Class count must be between 1 and 256 (labels are single bytes).");
        if (clientCount < 1 || clientCount > labels.Length)
            throw new ArgumentOutOfRangeException(nameof(clientCount), clientCount, $"Client count must be between 1 and the sample count {labels.Length}.");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classCount)
                throw new ArgumentException($"Label {labels[i]} at index {i} is not below the class count {classCount}.", nameof(labels));

        int[][] assigned = Assign(labels, classCount, clientCount, new Random(seed));
        EnsureExactCover(assigned, labels.Length, clientCount);
        var partitions = new Partition[clientCount];
        for (int k = 0; k < clientCount; k++)
        {
            Array.Sort(assigned[k]);
            partitions[k] = new Partition(k, assigned[k]);
        }
        return partitions;
    }

    /// <summary>
    /// Assigns sample indices to clients: one array per client, together holding every index in
    /// 0..labels.Length-1 exactly once. Arguments are already validated; draw randomness only from
    /// <paramref name="random"/> so the split is reproducible.
    /// </summary>
    protected abstract int[][] Assign(ReadOnlySpan<byte> labels, int classCount, int clientCount, Random random);

    /// <summary>Sample indices grouped by label (stable: file order within a label); <paramref name="classStart"/> gets classCount + 1 offsets.</summary>
    protected static int[] SortByLabel(ReadOnlySpan<byte> labels, int classCount, out int[] classStart)
    {
        classStart = new int[classCount + 1];
        for (int i = 0; i < labels.Length; i++) classStart[labels[i] + 1]++;
        for (int c = 0; c < classCount; c++) classStart[c + 1] += classStart[c];
        var next = new int[classCount];
        classStart.AsSpan(0, classCount).CopyTo(next);
        var order = new int[labels.Length];
        for (int i = 0; i < labels.Length; i++) order[next[labels[i]]++] = i;
        return order;
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    protected static void Shuffle(Span<int> values, Random random)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private void EnsureExactCover(int[][] assigned, int sampleCount, int clientCount)
    {
        if (assigned is null || assigned.Length != clientCount)
            throw new InvalidOperationException($"{this} returned {assigned?.Length ?? 0} partitions for {clientCount} clients.");
        var seen = new bool[sampleCount];
        int total = 0;
        for (int k = 0; k < assigned.Length; k++)
        {
            int[] part = assigned[k] ?? throw new InvalidOperationException($"{this} returned no partition for client {k}.");
            foreach (int index in part)
            {
                if ((uint)index >= (uint)sampleCount)
                    throw new InvalidOperationException($"{this} gave client {k} sample index {index}, outside 0..{sampleCount - 1}.");
                if (seen[index])
                    throw new InvalidOperationException($"{this} assigned sample {index} twice (again to client {k}).");
                seen[index] = true;
            }
            total += part.Length;
        }
        if (total != sampleCount)
            throw new InvalidOperationException($"{this} assigned {total} of {sampleCount} samples; every sample must go to one client.");
    }
}
