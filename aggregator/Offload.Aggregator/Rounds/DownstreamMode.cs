namespace Offload.Aggregator.Rounds;

/// <summary>How the global model travels to devices.</summary>
public enum DownstreamMode
{
    /// <summary>Every download is the whole model as float32; devices train from the exact global model.</summary>
    Full,

    /// <summary>
    /// Each new version is also kept as a FedZip-encoded change from the previous one; devices that hold
    /// the previous version download only that change. Devices train from the clients' view of the
    /// model (<see cref="ModelBroadcast"/>), which trails the global model by what compression dropped.
    /// </summary>
    FedZip,
}
