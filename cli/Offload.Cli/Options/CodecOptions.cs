using Offload.Core.Codec;

namespace Offload.Cli.Options;

/// <summary>Turns the codec flags shared by <c>simulate</c> and the experiments into <see cref="FedZipOptions"/>.</summary>
public static class CodecOptions
{
    /// <summary>Null for <c>--codec none</c>; validated FedZip options for <c>--codec fedzip</c>.</summary>
    /// <exception cref="InvalidOptionException">A flag is out of range or not one of its words.</exception>
    public static FedZipOptions? Parse(string codec, double topZ, int clusters, string encoding, string errorFeedback, int denseThreshold = 256)
    {
        bool feedback = errorFeedback.ToLowerInvariant() switch
        {
            "on" => true,
            "off" => false,
            _ => throw new InvalidOptionException($"--error-feedback must be on or off (got '{errorFeedback}')."),
        };
        switch (codec.ToLowerInvariant())
        {
            case "none":
                return null;
            case "fedzip":
                FedZipEncoding parsedEncoding;
                try
                {
                    parsedEncoding = FedZipOptions.ParseEncoding(encoding);
                }
                catch (FormatException e)
                {
                    throw new InvalidOptionException("--encoding: " + e.Message);
                }
                try
                {
                    return new FedZipOptions { TopZ = topZ, Clusters = clusters, Encoding = parsedEncoding, ErrorFeedback = feedback, DenseThreshold = denseThreshold };
                }
                catch (ArgumentOutOfRangeException e)
                {
                    string option = e.ParamName switch
                    {
                        nameof(FedZipOptions.Clusters) => "--clusters",
                        nameof(FedZipOptions.DenseThreshold) => "--dense-threshold",
                        _ => "--topz",
                    };
                    throw new InvalidOptionException($"{option}: {FirstLine(e.Message)} (got {e.ActualValue}).");
                }
            default:
                throw new InvalidOptionException($"--codec must be none or fedzip (got '{codec}').");
        }
    }

    // ArgumentException appends "(Parameter 'x')" on a new line; one line is wanted.
    private static string FirstLine(string message)
    {
        int end = message.IndexOf(" (Parameter", StringComparison.Ordinal);
        if (end < 0) end = message.IndexOf('\n');
        return end < 0 ? message : message[..end];
    }
}
