namespace Offload.Core.Codec;

/// <summary>
/// Settings of the FedZip codec (Malekijoo et al., "FedZip: A Compression Framework for
/// Communication-Efficient Federated Learning", 2021). Immutable; every property is validated when
/// it is set, so <c>with</c> expressions cannot build an invalid value.
/// </summary>
/// <remarks>The defaults and why they were chosen are in <c>docs/fedzip-format.md</c>.</remarks>
public sealed record FedZipOptions
{
    /// <summary>Most centroids a tensor may use: indices must fit one byte.</summary>
    public const int MaxClusters = 256;

    private readonly double _topZ = 0.01;
    private readonly int _clusters = 8;
    private readonly FedZipEncoding _encoding = FedZipEncoding.Auto;
    private readonly int _denseThreshold = 256;

    /// <summary>The defaults: keep 1%, 8 centroids, smallest encoding per tensor, tensors under 256 elements dense, error feedback on.</summary>
    public static FedZipOptions Default { get; } = new();

    /// <summary>
    /// Fraction of each sparsified tensor's entries kept, in (0, 1]. A tensor of n elements keeps
    /// exactly ceil(z·n) entries (at least one), those of largest magnitude.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not in (0, 1].</exception>
    public double TopZ
    {
        get => _topZ;
        init
        {
            if (!(value > 0 && value <= 1))
                throw new ArgumentOutOfRangeException(nameof(TopZ), value, "Top-z must be a fraction in (0, 1].");
            _topZ = value;
        }
    }

    /// <summary>
    /// Number of centroids the kept values of a tensor are clustered into, 1 to <see cref="MaxClusters"/>.
    /// Fewer are used when a tensor has fewer distinct kept values.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not in [1, 256].</exception>
    public int Clusters
    {
        get => _clusters;
        init
        {
            if (value < 1 || value > MaxClusters)
                throw new ArgumentOutOfRangeException(nameof(Clusters), value, $"Clusters must be between 1 and {MaxClusters}.");
            _clusters = value;
        }
    }

    /// <summary>How positions and centroid indices are written; see <see cref="FedZipEncoding"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined <see cref="FedZipEncoding"/>.</exception>
    public FedZipEncoding Encoding
    {
        get => _encoding;
        init
        {
            if (!Enum.IsDefined(value))
                throw new ArgumentOutOfRangeException(nameof(Encoding), value, "Encoding must be Huffman, Positions, Gaps or Auto.");
            _encoding = value;
        }
    }

    /// <summary>
    /// Tensors with fewer elements than this (biases, normalisation scales) are sent dense and exact;
    /// 0 sparsifies every tensor.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int DenseThreshold
    {
        get => _denseThreshold;
        init
        {
            if (value < 0)
                throw new ArgumentOutOfRangeException(nameof(DenseThreshold), value, "The dense threshold must be 0 or more elements.");
            _denseThreshold = value;
        }
    }

    /// <summary>Writes tensor names and shapes into each payload, so <c>offload inspect</c> can show them; costs a few bytes per tensor.</summary>
    public bool EmbedLayout { get; init; }

    /// <summary>
    /// Whether the client carries what compression dropped into its next update (see
    /// <see cref="ErrorFeedback"/>). On by default: without it top-z loses small but persistent coordinates.
    /// </summary>
    public bool ErrorFeedback { get; init; } = true;

    /// <summary>Reads an encoding name (<c>huffman</c>, <c>positions</c>, <c>gaps</c>, <c>auto</c>; any case).</summary>
    /// <exception cref="FormatException">The text names no encoding.</exception>
    public static FedZipEncoding ParseEncoding(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "huffman" => FedZipEncoding.Huffman,
            "positions" => FedZipEncoding.Positions,
            "gaps" => FedZipEncoding.Gaps,
            "auto" => FedZipEncoding.Auto,
            _ => throw new FormatException($"'{text}' is not a FedZip encoding; use huffman, positions, gaps or auto."),
        };
    }

    /// <summary>Entries a sparsified tensor of <paramref name="elements"/> keeps: ceil(z·n), at least 1, at most n.</summary>
    /// <remarks>
    /// The product is shrunk by a relative 1e-12 before rounding up, so that rounding noise in z·n
    /// (0.1·30 = 3.0000000000000004) does not add an entry.
    /// </remarks>
    public int KeptCount(int elements)
    {
        if (elements <= 0) return 0;
        double exact = _topZ * elements;
        long kept = (long)Math.Ceiling(exact * (1 - 1e-12));
        return (int)Math.Clamp(kept, 1, elements);
    }
}
