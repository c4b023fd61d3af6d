using System.Globalization;
using System.Text;
using Offload.Core.Model;

namespace Offload.Core.Codec;

/// <summary>
/// What <see cref="UpdatePayload.Describe"/> reads from a payload without decoding its streams: the
/// header, the layout if embedded, the FedZip settings and a row per tensor. <see cref="ToString"/>
/// renders it as a plain-text table for <c>offload inspect</c>.
/// </summary>
/// <param name="Header">The fixed header.</param>
/// <param name="ChecksumValid">Whether the CRC-32C matches; inspection reports a mismatch instead of failing.</param>
/// <param name="Layout">The embedded layout, or null when the payload carries only its hash.</param>
/// <param name="TopZ">The top-z the encoder used (FedZip only).</param>
/// <param name="Clusters">The cluster count the encoder was asked for (FedZip only).</param>
/// <param name="Encoding">The encoding the encoder was asked for (FedZip only).</param>
/// <param name="DenseThreshold">The dense threshold the encoder used (FedZip only).</param>
/// <param name="Tensors">One entry per tensor, in layout order.</param>
public sealed record PayloadDescription(
    PayloadHeader Header,
    bool ChecksumValid,
    TensorLayout? Layout,
    double? TopZ,
    int? Clusters,
    FedZipEncoding? Encoding,
    int? DenseThreshold,
    IReadOnlyList<TensorSectionDescription> Tensors)
{
    /// <summary>Size of the same update as raw float32 (4 bytes per parameter).</summary>
    public long DenseBytes => 4L * Header.ParameterCount;

    /// <summary>Dense size over payload size.</summary>
    public double CompressionRatio => Header.PayloadLength == 0 ? 0 : (double)DenseBytes / Header.PayloadLength;

    /// <summary>A header summary followed by one row per tensor.</summary>
    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(c, $"codec {Header.Codec}, format v{Header.Version}, {Header.PayloadLength} bytes (dense {DenseBytes} bytes, ratio {CompressionRatio:0.0#}x), CRC-32C {(ChecksumValid ? "ok" : "MISMATCH")}").AppendLine();
        sb.Append(c, $"layout {Header.LayoutHash:X16}: {Header.TensorCount} tensors, {Header.ParameterCount} parameters{(Layout is null ? " (not embedded)" : "")}").AppendLine();
        if (TopZ is { } z)
            sb.Append(c, $"top-z {z:0.#####}, clusters {Clusters}, encoding {Encoding}, dense below {DenseThreshold} elements").AppendLine();
        sb.AppendLine("  # name                           shape         mode       elements       kept   k  param   pos B   val B  record B  bits/el");
        foreach (var t in Tensors)
        {
            string name = t.Name ?? "-";
            if (name.Length > 30) name = name[..27] + "...";
            string shape = t.Shape is null ? "-" : string.Join('x', t.Shape);
            sb.Append(c, $"{t.Index,3} {name,-30} {shape,-13} {t.Mode,-9} {t.Elements,10} {t.Kept,10} {t.Clusters,3} {t.PositionParameter,6} {t.PositionBytes,7} {t.ValueBytes,7} {t.RecordBytes,9} {t.BitsPerElement,8:0.000}").AppendLine();
        }
        return sb.ToString();
    }
}
