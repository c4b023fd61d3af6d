using Offload.Core.Federation;
using Offload.Client.Training;

namespace Offload.Client.Inversion;

/// <summary>
/// Settings of gradient-inversion staleness correction; immutable, checked by <see cref="Validate"/>.
/// The defaults are the cheap end (Wang and Gao run 10k-40k iterations over 256 dummy images,
/// unrolling 5 SGD steps): 16 dummy samples, a one-step surrogate of local training, 150 iterations
/// from noise and 40 from the client's previous estimate.
/// </summary>
public sealed record InversionOptions
{
    /// <summary>Dummy samples optimised per client.</summary>
    public int DummySamples { get; init; } = 16;

    /// <summary>Iteration budget when a client is inverted for the first time.</summary>
    public int ColdStartIterations { get; init; } = 150;

    /// <summary>Iteration budget when starting from the client's previous recovered data.</summary>
    public int WarmStartIterations { get; init; } = 40;

    /// <summary>SGD steps the client takes per round (S), as the server configured its task.</summary>
    public int LocalSteps { get; init; } = 10;

    /// <summary>The client's SGD learning rate (eta).</summary>
    public double LearningRate { get; init; } = 0.05;

    /// <summary>
    /// SGD steps the forward model unrolls, each of size eta * S / U over all dummy samples: 1 is the
    /// one-step surrogate (cheapest), <see cref="LocalSteps"/> mimics local training step by step.
    /// </summary>
    public int UnrolledSteps { get; init; } = 1;

    /// <summary>How reproduced and stale updates are compared.</summary>
    public UpdateMatching Matching { get; init; } = UpdateMatching.Cosine;

    /// <summary>How the fresh update is formed.</summary>
    public FreshUpdateForm Form { get; init; } = FreshUpdateForm.Replace;

    /// <summary>Adam step size on the dummy pixels and label logits.</summary>
    public double StepSize { get; init; } = 0.1;

    /// <summary>When at least this fraction of the stale update is exactly zero, it is treated as sparse and only its kept (non-zero) entries are matched.</summary>
    public double SparseFraction { get; init; } = 0.5;

    /// <summary>
    /// Smallest standardised pixel value a real image can have; dummy pixels are kept in
    /// [<see cref="PixelMin"/>, <see cref="PixelMax"/>] after every step (a box prior: real pixels are
    /// bytes). The defaults are 0 and 255 under the trainer's Fashion-MNIST standardisation.
    /// </summary>
    public double PixelMin { get; init; } = (0 - TorchTrainer.FashionMnistPixelMean) / TorchTrainer.FashionMnistPixelStd;

    /// <summary>Largest standardised pixel value a real image can have (see <see cref="PixelMin"/>).</summary>
    public double PixelMax { get; init; } = (1 - TorchTrainer.FashionMnistPixelMean) / TorchTrainer.FashionMnistPixelStd;

    /// <summary>Scale of the cold-start label logits read off the last layer's bias update (its sign reveals the client's labels).</summary>
    public double LabelPrior { get; init; } = 4.0;

    /// <summary>The options for a client that trains with <paramref name="training"/> on <paramref name="samples"/> samples.</summary>
    public InversionOptions ForClient(TrainingOptions training, int samples)
    {
        ArgumentNullException.ThrowIfNull(training);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(samples);
        int steps = training.LocalEpochs * ((samples + training.BatchSize - 1) / training.BatchSize);
        return this with { LocalSteps = steps, LearningRate = training.LearningRate, UnrolledSteps = Math.Min(UnrolledSteps, steps) };
    }

    /// <summary>Throws when a setting is out of range; returns this for chaining.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The message names the setting and its allowed range.</exception>
    public InversionOptions Validate()
    {
        Require(DummySamples >= 1, DummySamples, nameof(DummySamples), "must be at least 1");
        Require(ColdStartIterations >= 0, ColdStartIterations, nameof(ColdStartIterations), "must not be negative");
        Require(WarmStartIterations >= 0, WarmStartIterations, nameof(WarmStartIterations), "must not be negative");
        Require(LocalSteps >= 1, LocalSteps, nameof(LocalSteps), "must be at least 1");
        Require(UnrolledSteps >= 1 && UnrolledSteps <= LocalSteps, UnrolledSteps, nameof(UnrolledSteps), $"must be between 1 and LocalSteps ({LocalSteps})");
        Require(double.IsFinite(LearningRate) && LearningRate > 0, LearningRate, nameof(LearningRate), "must be positive and finite");
        Require(double.IsFinite(StepSize) && StepSize > 0, StepSize, nameof(StepSize), "must be positive and finite");
        Require(SparseFraction > 0 && SparseFraction <= 1, SparseFraction, nameof(SparseFraction), "must be in (0, 1]");
        Require(double.IsFinite(LabelPrior) && LabelPrior >= 0, LabelPrior, nameof(LabelPrior), "must be non-negative and finite");
        Require(double.IsFinite(PixelMin) && double.IsFinite(PixelMax) && PixelMin < PixelMax, PixelMax, nameof(PixelMax), $"must be finite and above PixelMin ({PixelMin})");
        Require(Enum.IsDefined(Matching), Matching, nameof(Matching), "must be Cosine or L1");
        Require(Enum.IsDefined(Form), Form, nameof(Form), "must be Replace or Residual");
        return this;
    }

    private static void Require(bool condition, object value, string name, string rule)
    {
        if (!condition) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}.");
    }
}
