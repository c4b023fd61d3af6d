using Offload.Aggregator.Inversion;
using Offload.Aggregator.Staleness;
using Offload.Client.Inversion;
using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Cli.Options;

/// <summary>
/// The staleness correctors by name, one registry for the simulator's experiment and for
/// <c>serve --mode async</c>: <c>none</c> (alias <c>unweighted</c>), <c>fedasync-poly</c>,
/// <c>fedasync-hinge</c>, <c>dc-asgd</c>, <c>inversion</c> (gated, falling back to FedAsync's
/// polynomial weighting, warm-started per client) and <c>inversion-unrolled</c>.
/// </summary>
public static class CorrectorCatalog
{
    /// <summary>Every corrector name, in report order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["none", "fedasync-poly", "fedasync-hinge", "dc-asgd", "inversion", "inversion-unrolled"];

    /// <summary>The corrector named <paramref name="name"/>.</summary>
    /// <param name="name">A name of <see cref="Names"/>, or <c>unweighted</c>.</param>
    /// <param name="settings">The correctors' settings.</param>
    /// <param name="layout">The model's layout.</param>
    /// <param name="image">The images' rows, columns and classes (the inversion recovers images of this shape).</param>
    /// <param name="training">The local training the tasks ask for (the inversion's surrogate follows it).</param>
    /// <param name="clientSamples">Samples a typical stale client trains on.</param>
    /// <exception cref="InvalidOptionException">The name is unknown.</exception>
    public static IStalenessCorrector Create(string name, CorrectorSettings settings, TensorLayout layout, (int Rows, int Columns, int Classes) image,
        TrainingOptions training, int clientSamples)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return name switch
        {
            "none" or "unweighted" or "fedasync-poly" or "fedasync-hinge" => WeightingOf(name, settings)!,
            "dc-asgd" => new DcAsgdCorrector(settings.DcLambda),
            "inversion" => Inversion(settings, settings.Inversion with { UnrolledSteps = 1 }, layout, image, training, clientSamples),
            "inversion-unrolled" => Inversion(settings, settings.Inversion with { UnrolledSteps = settings.UnrolledSteps }, layout, image, training, clientSamples),
            _ => throw new InvalidOptionException($"Unknown corrector '{name}'; choose among {string.Join(", ", Names)}."),
        };
    }

    /// <summary>
    /// The weighting the corrector named <paramref name="name"/> is, when it only weights (none and the
    /// FedAsync weightings, which the Dapr leaves apply themselves); null for one that needs the base
    /// model (dc-asgd and the inversions, which the corrector app runs). Builds no model: what the
    /// gateway asks, which never loads TorchSharp for correction.
    /// </summary>
    /// <exception cref="InvalidOptionException">The name is unknown.</exception>
    public static IStalenessWeighting? WeightingOf(string name, CorrectorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return name switch
        {
            "none" or "unweighted" => new UnweightedCorrector(),
            "fedasync-poly" => Fallback(settings),
            "fedasync-hinge" => new HingeStalenessWeighting(settings.HingeSlope, settings.HingeThreshold),
            "dc-asgd" or "inversion" or "inversion-unrolled" => null,
            _ => throw new InvalidOptionException($"Unknown corrector '{name}'; choose among {string.Join(", ", Names)}."),
        };
    }

    /// <summary>What answers when a correction fails or an update is older than the window: FedAsync's polynomial weighting.</summary>
    public static IStalenessWeighting Fallback(CorrectorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new PolynomialStalenessWeighting(settings.PolynomialExponent);
    }

    private static InversionCorrector Inversion(CorrectorSettings settings, InversionOptions inversion, TensorLayout layout,
        (int Rows, int Columns, int Classes) image, TrainingOptions training, int clientSamples)
    {
        var engine = new GradientInversion(layout, image.Rows, image.Columns, image.Classes, inversion.ForClient(training, Math.Max(1, clientSamples)));
        return new InversionCorrector(engine, settings.GateThreshold, Fallback(settings), settings.Seed);
    }
}
