namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>
/// How devices differ: compute speed and link bandwidth are each log-normal (median and sigma of the
/// log), drawn once per client; sigma 0 makes every device the median one. Immutable; checked by
/// <see cref="Validate"/>.
/// </summary>
public sealed record DeviceHeterogeneityOptions
{
    /// <summary>Median training throughput, samples per second.</summary>
    public double MedianSamplesPerSecond { get; init; } = 200;

    /// <summary>Sigma of log(throughput).</summary>
    public double SpeedSigma { get; init; } = 1.0;

    /// <summary>Median link bandwidth, bytes per second.</summary>
    public double MedianBytesPerSecond { get; init; } = 1_000_000;

    /// <summary>Sigma of log(bandwidth).</summary>
    public double BandwidthSigma { get; init; } = 1.0;

    /// <summary>Clients training at once; a finished client is replaced by a random idle one.</summary>
    public int Concurrency { get; init; } = 20;

    /// <summary>Throws when a setting is out of range; returns this for chaining.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The message names the setting and its allowed range.</exception>
    public DeviceHeterogeneityOptions Validate()
    {
        Positive(MedianSamplesPerSecond, nameof(MedianSamplesPerSecond));
        Positive(MedianBytesPerSecond, nameof(MedianBytesPerSecond));
        if (!(SpeedSigma >= 0) || !double.IsFinite(SpeedSigma)) throw new ArgumentOutOfRangeException(nameof(SpeedSigma), SpeedSigma, "SpeedSigma must be non-negative and finite.");
        if (!(BandwidthSigma >= 0) || !double.IsFinite(BandwidthSigma)) throw new ArgumentOutOfRangeException(nameof(BandwidthSigma), BandwidthSigma, "BandwidthSigma must be non-negative and finite.");
        if (Concurrency < 1) throw new ArgumentOutOfRangeException(nameof(Concurrency), Concurrency, "Concurrency must be at least 1.");
        return this;
    }

    private static void Positive(double value, string name)
    {
        if (!(value > 0) || !double.IsFinite(value)) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive and finite.");
    }
}
