namespace Offload.Core.Codec;

/// <summary>
/// How FedZip writes the two streams of a sparse tensor: the positions of the kept entries and
/// their centroid indices. Names parse case-insensitively (<see cref="FedZipOptions.ParseEncoding"/>),
/// so a command line can take <c>--encoding huffman|positions|gaps|auto</c>.
/// </summary>
public enum FedZipEncoding
{
    /// <summary>A one-bit-per-element bitmap of kept entries, with Huffman-coded centroid indices. Best when many entries are kept.</summary>
    Huffman = 0,

    /// <summary>Fixed-width positions (ceil(log2 n) bits) and fixed-width centroid indices: no entropy coding, simplest to decode.</summary>
    Positions = 1,

    /// <summary>Rice-coded gaps between sorted positions, with Huffman-coded centroid indices. Best for sparse tensors.</summary>
    Gaps = 2,

    /// <summary>Whichever of the three is smallest, chosen per tensor.</summary>
    Auto = 3,
}
