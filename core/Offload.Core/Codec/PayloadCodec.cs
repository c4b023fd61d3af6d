namespace Offload.Core.Codec;

/// <summary>Which codec wrote a payload (byte 5 of the header).</summary>
public enum PayloadCodec
{
    /// <summary>Raw float32 tensors: exact, no compression.</summary>
    Identity = 0,

    /// <summary>FedZip: top-z sparsification, k-means quantization, entropy-coded streams.</summary>
    FedZip = 1,
}
