namespace Offload.Core.Data;

/// <summary>The indices of the samples one client holds, into a shared <see cref="ImageDataset"/>.</summary>
/// <param name="ClientId">The client's index, 0-based.</param>
/// <param name="Indices">Sample indices, each appearing in exactly one client's partition.</param>
public sealed record Partition(int ClientId, int[] Indices)
{
    /// <summary>Number of samples the client holds (its FedAvg weight).</summary>
    public int Count => Indices.Length;
}
