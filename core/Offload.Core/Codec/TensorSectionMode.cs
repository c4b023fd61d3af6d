namespace Offload.Core.Codec;

/// <summary>How one tensor is stored in a payload (the first byte of its record).</summary>
public enum TensorSectionMode
{
    /// <summary>Every element as raw little-endian float32, exact.</summary>
    Dense = 0,

    /// <summary>Bitmap of kept positions; Huffman-coded centroid indices.</summary>
    Huffman = 1,

    /// <summary>Fixed-width positions; fixed-width centroid indices.</summary>
    Positions = 2,

    /// <summary>Rice-coded gaps between positions; Huffman-coded centroid indices.</summary>
    Gaps = 3,
}
