namespace Offload.Core.Data;

/// <summary>
/// The pathological non-IID split of McMahan et al. 2017 ("Communication-Efficient Learning of
/// Deep Networks from Decentralized Data", section 3): sort the samples by label, cut them into
/// clientCount x shardsPerClient shards of (nearly) equal size, and give each client
/// shardsPerClient shards at random. With 2 shards per client most clients see at most two labels.
/// </summary>
/// <remarks>Within a label samples keep file order, so the seed only decides which shards go where.</remarks>
public sealed class ShardScheme : PartitionScheme
{
    /// <summary>McMahan et al.'s choice: 2 shards per client.</summary>
    public const int DefaultShardsPerClient = 2;

    internal ShardScheme(int shardsPerClient)
    {
        if (shardsPerClient < 1)
            throw new ArgumentOutOfRangeException(nameof(shardsPerClient), shardsPerClient, "Shards per client must be at least 1.");
        ShardsPerClient = shardsPerClient;
    }

    /// <summary>How many label-sorted shards each client receives.</summary>
    public int ShardsPerClient { get; }

    /// <inheritdoc/>
    protected override int[][] Assign(ReadOnlySpan<byte> labels, int classCount, int clientCount, Random random)
    {
        int n = labels.Length;
        long shardCount = (long)clientCount * ShardsPerClient;
        if (shardCount > n)
            throw new ArgumentOutOfRangeException(nameof(clientCount), clientCount,
                $"With {ShardsPerClient} shards per client, client count must be between 1 and {n / ShardsPerClient} for {n} samples (every shard needs a sample).");

        int[] order = SortByLabel(labels, classCount, out _);
        var shards = new int[(int)shardCount];
        for (int s = 0; s < shards.Length; s++) shards[s] = s;
        Shuffle(shards, random);

        var clients = new int[clientCount][];
        for (int k = 0; k < clientCount; k++)
        {
            int size = 0;
            for (int j = 0; j < ShardsPerClient; j++)
            {
                int s = shards[k * ShardsPerClient + j];
                size += ShardEnd(s, shardCount, n) - ShardEnd(s - 1, shardCount, n);
            }
            var mine = new int[size];
            int at = 0;
            for (int j = 0; j < ShardsPerClient; j++)
            {
                int s = shards[k * ShardsPerClient + j];
                int start = ShardEnd(s - 1, shardCount, n), end = ShardEnd(s, shardCount, n);
                order.AsSpan(start, end - start).CopyTo(mine.AsSpan(at));
                at += end - start;
            }
            clients[k] = mine;
        }
        return clients;
    }

    public override string ToString() => $"shards({ShardsPerClient} per client)";

    private static int ShardEnd(int shard, long shardCount, int n) => (int)((shard + 1) * (long)n / shardCount);
}
