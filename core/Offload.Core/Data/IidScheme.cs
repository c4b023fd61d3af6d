namespace Offload.Core.Data;

/// <summary>
/// IID split: shuffle all samples, then deal contiguous runs so that client sizes differ by at
/// most one. The baseline every non-IID result is compared against.
/// </summary>
public sealed class IidScheme : PartitionScheme
{
    internal IidScheme() { }

    /// <inheritdoc/>
    protected override int[][] Assign(ReadOnlySpan<byte> labels, int classCount, int clientCount, Random random)
    {
        int n = labels.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Shuffle(order, random);
        var clients = new int[clientCount][];
        for (int k = 0; k < clientCount; k++)
        {
            int start = (int)((long)k * n / clientCount);
            int end = (int)((long)(k + 1) * n / clientCount);
            clients[k] = order[start..end];
        }
        return clients;
    }

    public override string ToString() => "iid";
}
