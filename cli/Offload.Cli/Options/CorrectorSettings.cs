using Offload.Client.Inversion;

namespace Offload.Cli.Options;

/// <summary>
/// The staleness correctors' settings, shared by <c>experiment staleness</c> and <c>serve --mode async</c>
/// so that both build the same corrector from the same name (<see cref="CorrectorCatalog"/>).
/// </summary>
public sealed record CorrectorSettings
{
    /// <summary>FedAsync polynomial exponent a: weight (1 + tau)^-a.</summary>
    public double PolynomialExponent { get; init; } = 0.5;

    /// <summary>FedAsync hinge slope a.</summary>
    public double HingeSlope { get; init; } = 10;

    /// <summary>FedAsync hinge threshold b.</summary>
    public int HingeThreshold { get; init; } = 4;

    /// <summary>DC-ASGD's lambda in update units.</summary>
    public double DcLambda { get; init; } = 1.0;

    /// <summary>Gradient inversion's settings; local steps and learning rate come from the training the tasks ask for.</summary>
    public InversionOptions Inversion { get; init; } = new();

    /// <summary>Steps unrolled by <c>inversion-unrolled</c>.</summary>
    public int UnrolledSteps { get; init; } = 3;

    /// <summary>The inversion's quality gate: largest accepted relative error of the reproduced stale update.</summary>
    public double GateThreshold { get; init; } = 0.3;

    /// <summary>Seeds the inversion's cold starts.</summary>
    public int Seed { get; init; } = 42;
}
