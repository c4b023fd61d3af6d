namespace Offload.Cli.Reports;

/// <summary>One configuration of the compression experiment and what it measured.</summary>
/// <param name="Name">Folder and row name, e.g. <c>fedzip-z0.01-ef</c>.</param>
/// <param name="TopZ">Kept fraction, or null for the uncompressed baseline.</param>
/// <param name="ErrorFeedback">Whether the clients carried residuals.</param>
/// <param name="FinalAccuracy">Test accuracy after the last round.</param>
/// <param name="BestAccuracy">Best test accuracy over the rounds.</param>
/// <param name="RawBytesUp">Float32 bytes of every update sent.</param>
/// <param name="BytesUp">Bytes actually sent (auto encoding, or raw with header).</param>
/// <param name="EncodingBytes">What each alternative (fixed FedZip encodings, or Brotli and GZip) would have sent.</param>
/// <param name="WallSeconds">Wall time of the run.</param>
public sealed record CompressionRun(string Name, double? TopZ, bool ErrorFeedback, double FinalAccuracy, double BestAccuracy,
    long RawBytesUp, long BytesUp, IReadOnlyDictionary<string, long> EncodingBytes, double WallSeconds)
{
    /// <summary>Raw float32 bytes over bytes sent.</summary>
    public double Ratio => BytesUp == 0 ? 0 : (double)RawBytesUp / BytesUp;

    /// <summary>Raw float32 bytes over what <paramref name="alternative"/> would have sent.</summary>
    public double RatioOf(string alternative) =>
        EncodingBytes.TryGetValue(alternative, out long bytes) && bytes > 0 ? (double)RawBytesUp / bytes : double.NaN;
}
