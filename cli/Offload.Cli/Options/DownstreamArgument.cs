using System.Globalization;
using Offload.Aggregator.Rounds;
using Offload.Core.Codec;

namespace Offload.Cli.Options;

/// <summary>
/// Reads <c>serve --downstream</c>: <c>full</c> (or <c>none</c>), or <c>fedzip</c> with optional top-z
/// fraction and clusters, <c>fedzip:0.01:8</c>. The FedZip settings go through <see cref="CodecOptions"/>;
/// those left out are <see cref="RoundOptions.DefaultDownstreamFedZip"/>'s (top-z 0.1, not the uplink's 0.01).
/// </summary>
public static class DownstreamArgument
{
    /// <summary>The mode and the encoder's settings (the defaults with <see cref="DownstreamMode.Full"/>).</summary>
    /// <exception cref="InvalidOptionException">The text is not one of the forms, or a setting is out of range.</exception>
    public static (DownstreamMode Mode, FedZipOptions FedZip) Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var parts = value.Trim().ToLowerInvariant().Split(':');
        if (parts.Length == 1 && parts[0] is "full" or "none") return (DownstreamMode.Full, RoundOptions.DefaultDownstreamFedZip);
        if (parts[0] != "fedzip" || parts.Length > 3)
            throw new InvalidOptionException($"--downstream must be full, fedzip, or fedzip:TOPZ[:CLUSTERS] such as fedzip:0.01:8 (got '{value}').");
        double topZ = RoundOptions.DefaultDownstreamFedZip.TopZ;
        int clusters = RoundOptions.DefaultDownstreamFedZip.Clusters;
        if (parts.Length > 1 && !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out topZ))
            throw new InvalidOptionException($"--downstream: the top-z fraction must be a number in (0, 1] (got '{parts[1]}').");
        if (parts.Length > 2 && !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out clusters))
            throw new InvalidOptionException($"--downstream: the clusters must be a whole number in 1..{FedZipOptions.MaxClusters} (got '{parts[2]}').");
        try
        {
            return (DownstreamMode.FedZip, CodecOptions.Parse("fedzip", topZ, clusters, "auto", "on")!);
        }
        catch (InvalidOptionException e)
        {
            throw new InvalidOptionException("--downstream: " + e.Message);
        }
    }

    /// <summary>The mode as <c>serve</c> writes it into summary.json: <c>full</c> or <c>fedzip:TOPZ:CLUSTERS</c>.</summary>
    public static string Format(DownstreamMode mode, FedZipOptions fedZip)
    {
        ArgumentNullException.ThrowIfNull(fedZip);
        return mode == DownstreamMode.Full ? "full" : string.Create(CultureInfo.InvariantCulture, $"fedzip:{fedZip.TopZ}:{fedZip.Clusters}");
    }
}
