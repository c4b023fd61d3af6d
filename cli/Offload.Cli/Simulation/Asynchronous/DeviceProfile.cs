namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>A simulated device: how fast it trains and how fast its link is.</summary>
/// <param name="SamplesPerSecond">Training throughput (samples per second, one epoch over n samples takes n / this).</param>
/// <param name="BytesPerSecond">Link bandwidth, the same up and down.</param>
public readonly record struct DeviceProfile(double SamplesPerSecond, double BytesPerSecond)
{
    /// <summary>Virtual seconds for one task: download the model, train <paramref name="samples"/> x <paramref name="epochs"/>, upload the update.</summary>
    public double TaskSeconds(long samples, int epochs, long modelBytes) =>
        2.0 * modelBytes / BytesPerSecond + (double)samples * epochs / SamplesPerSecond;
}
