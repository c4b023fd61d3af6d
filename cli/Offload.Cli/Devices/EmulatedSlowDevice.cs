using System.Diagnostics;
using Offload.Client.Training;
using Offload.Core.Data;
using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Cli.Devices;

/// <summary>
/// A trainer that behaves like a slower device (<c>offload client --slowdown F --upload-delay S</c>):
/// after each real training it waits (F - 1) times as long as the training took, as a device F times
/// slower would, then S seconds more for a slow uplink, before the SDK uploads. The update is the
/// real one, only later: that is all staleness is. The waits observe cancellation, so a stop ends them.
/// </summary>
public sealed class EmulatedSlowDevice : ITrainer
{
    private readonly ITrainer _inner;

    /// <summary>Wraps <paramref name="inner"/>, which the device then owns.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The slowdown is below 1 or not finite, or the delay is negative or not finite.</exception>
    public EmulatedSlowDevice(ITrainer inner, double slowdown, TimeSpan uploadDelay)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (!(slowdown >= 1) || !double.IsFinite(slowdown))
            throw new ArgumentOutOfRangeException(nameof(slowdown), slowdown, "The slowdown factor must be a finite number of at least 1.");
        if (uploadDelay < TimeSpan.Zero || uploadDelay > TimeSpan.FromHours(1))
            throw new ArgumentOutOfRangeException(nameof(uploadDelay), uploadDelay, "The upload delay must be 0 to 3600 seconds.");
        _inner = inner;
        Slowdown = slowdown;
        UploadDelay = uploadDelay;
    }

    /// <summary>How many times slower than this machine the device computes.</summary>
    public double Slowdown { get; }

    /// <summary>The extra wait before each upload.</summary>
    public TimeSpan UploadDelay { get; }

    /// <summary>Time spent waiting so far (the emulated part of the device's slowness).</summary>
    public TimeSpan Waited { get; private set; }

    /// <inheritdoc/>
    public TensorLayout Layout => _inner.Layout;

    /// <inheritdoc/>
    public void ExportWeights(Span<float> destination) => _inner.ExportWeights(destination);

    /// <inheritdoc/>
    public TrainingResult Train(ReadOnlySpan<float> startWeights, ImageDataset data, ReadOnlySpan<int> indices,
        TrainingOptions options, int seed, Span<float> update, CancellationToken cancellationToken = default)
    {
        long start = Stopwatch.GetTimestamp();
        var result = _inner.Train(startWeights, data, indices, options, seed, update, cancellationToken);
        var wait = Stopwatch.GetElapsedTime(start) * (Slowdown - 1) + UploadDelay;
        if (wait > TimeSpan.Zero)
        {
            cancellationToken.WaitHandle.WaitOne(wait);
            cancellationToken.ThrowIfCancellationRequested();
            Waited += wait;
        }
        return result;
    }

    /// <inheritdoc/>
    public EvaluationResult Evaluate(ReadOnlySpan<float> weights, ImageDataset data, int start, int count) => _inner.Evaluate(weights, data, start, count);

    /// <inheritdoc/>
    public EvaluationResult Evaluate(ReadOnlySpan<float> weights, ImageDataset data, ReadOnlySpan<int> indices) => _inner.Evaluate(weights, data, indices);

    /// <inheritdoc/>
    public void Dispose() => _inner.Dispose();
}
