using Offload.Client.Inversion;

namespace Offload.Cli.Experiments.Staleness;

/// <summary>
/// Settings of the staleness experiment (Wang and Gao 2023's fixed-delay setup on Fashion-MNIST):
/// label-pure clients, a fixed number per round, and the clients holding <see cref="StaleClass"/>
/// always training from the model tau versions old. Immutable; <see cref="Validate"/> names the first
/// bad setting. Every strategy runs with the same seeds: same initial model, selections and shuffles.
/// </summary>
public sealed record StalenessExperimentOptions
{
    /// <summary>Every strategy the experiment knows, in report order.</summary>
    public static IReadOnlyList<string> AllStrategies { get; } =
        ["fresh", "unweighted", "fedasync-poly", "fedasync-hinge", "dc-asgd", "inversion", "inversion-unrolled"];

    /// <summary>The strategies run by default (the unrolled inversion is opt-in: it costs several times more).</summary>
    public static IReadOnlyList<string> DefaultStrategies { get; } =
        ["fresh", "unweighted", "fedasync-poly", "fedasync-hinge", "dc-asgd", "inversion"];

    /// <summary>
    /// Where staleness comes from: null for the paper's fixed delay (the <see cref="StaleClass"/>
    /// clients always tau versions behind), or device heterogeneity in virtual time, where staleness
    /// emerges from slow devices (tau then only sets the server's window: W = tau + 1).
    /// </summary>
    public Simulation.Asynchronous.DeviceHeterogeneityOptions? Devices { get; init; }

    /// <summary>Clients (each holds one label-sorted shard, so about one class).</summary>
    public int Clients { get; init; } = 100;

    /// <summary>Clients per round; also FedBuff's buffer size K.</summary>
    public int ClientsPerRound { get; init; } = 10;

    /// <summary>Rounds (model versions) per strategy.</summary>
    public int Rounds { get; init; } = 100;

    /// <summary>The staleness values to run, each a full comparison.</summary>
    public IReadOnlyList<int> Taus { get; init; } = [40];

    /// <summary>Clients whose shard holds this class are stale.</summary>
    public int StaleClass { get; init; } = 5;

    /// <summary>Strategies to run, by name (see <see cref="AllStrategies"/>).</summary>
    public IReadOnlyList<string> Strategies { get; init; } = DefaultStrategies;

    /// <summary>Local epochs per round.</summary>
    public int LocalEpochs { get; init; } = 1;

    /// <summary>Local batch size.</summary>
    public int BatchSize { get; init; } = 50;

    /// <summary>Local SGD learning rate.</summary>
    public double LearningRate { get; init; } = 0.05;

    /// <summary>Seed for model initialisation, partitioning, selection, shuffling and inversion.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Clients trained at once.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Evaluate every this many rounds (and after the last).</summary>
    public int EvaluateEvery { get; init; } = 1;

    /// <summary>Test samples per evaluation (the first ones); 0 for the whole test set.</summary>
    public int EvaluationSamples { get; init; }

    /// <summary>FedAsync polynomial exponent a.</summary>
    public double PolynomialExponent { get; init; } = 0.5;

    /// <summary>FedAsync hinge slope a.</summary>
    public double HingeSlope { get; init; } = 10;

    /// <summary>FedAsync hinge threshold b.</summary>
    public int HingeThreshold { get; init; } = 4;

    /// <summary>DC-ASGD's lambda in update units (lambda_gradient / (eta * S)).</summary>
    public double DcLambda { get; init; } = 1.0;

    /// <summary>Gradient-inversion settings; local steps and learning rate are filled in from the training options.</summary>
    public InversionOptions Inversion { get; init; } = new();

    /// <summary>Steps unrolled by the <c>inversion-unrolled</c> strategy (capped at the local steps).</summary>
    public int UnrolledSteps { get; init; } = 3;

    /// <summary>The inversion's quality gate: largest accepted relative error of the reproduced stale update.</summary>
    public double GateThreshold { get; init; } = 0.3;

    /// <summary>Diagnostic: compare each folded stale update with the update its client would have sent from the current model.</summary>
    public bool MeasureAgainstFresh { get; init; } = true;

    /// <summary>Stale updates that may wait for the corrector before ingest is pushed back.</summary>
    public int QueueCapacity { get; init; } = 4;

    /// <summary>
    /// The upload codec (<c>--codec</c>): null for exact float32 updates, else FedZip with each client's
    /// error feedback, so the correctors see the update a device would really send.
    /// </summary>
    public Offload.Core.Codec.FedZipOptions? FedZip { get; init; }

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="InvalidOptionException">The message names the option and its allowed range.</exception>
    public StalenessExperimentOptions Validate()
    {
        Require(Clients >= 1, Clients, "--clients must be at least 1");
        Require(ClientsPerRound >= 1 && ClientsPerRound <= Clients, ClientsPerRound, $"--per-round must be between 1 and --clients ({Clients})");
        Require(Rounds >= 1, Rounds, "--rounds must be at least 1");
        Require(Taus.Count >= 1 && Taus.All(t => t >= 0), string.Join(',', Taus), "--tau must list one or more non-negative values");
        Require(StaleClass >= 0 && StaleClass < 10, StaleClass, "--stale-class must be a Fashion-MNIST class, 0-9");
        Require(Strategies.Count >= 1, "(none)", "--strategies must name at least one strategy");
        foreach (var s in Strategies)
            Require(AllStrategies.Contains(s), s, $"--strategies must be among {string.Join(", ", AllStrategies)}");
        Require(LocalEpochs >= 1, LocalEpochs, "--local-epochs must be at least 1");
        Require(BatchSize >= 1, BatchSize, "--batch must be at least 1");
        Require(double.IsFinite(LearningRate) && LearningRate > 0, LearningRate, "--lr must be a positive number");
        Require(Workers >= 1, Workers, "--workers must be at least 1");
        Require(EvaluateEvery >= 1, EvaluateEvery, "--eval-every must be at least 1");
        Require(EvaluationSamples >= 0, EvaluationSamples, "--eval-samples must not be negative");
        Require(double.IsFinite(PolynomialExponent) && PolynomialExponent >= 0, PolynomialExponent, "--poly-a must be non-negative");
        Require(double.IsFinite(HingeSlope) && HingeSlope >= 0, HingeSlope, "--hinge-a must be non-negative");
        Require(HingeThreshold >= 0, HingeThreshold, "--hinge-b must be non-negative");
        Require(double.IsFinite(DcLambda) && DcLambda >= 0, DcLambda, "--dc-lambda must be non-negative");
        Require(UnrolledSteps >= 1, UnrolledSteps, "--unrolled-steps must be at least 1");
        Require(GateThreshold > 0 && !double.IsNaN(GateThreshold), GateThreshold, "--gate must be positive");
        Require(QueueCapacity >= 1, QueueCapacity, "--queue must be at least 1");
        Require(Devices is null || !Strategies.Contains("fresh"), "fresh", "--setup devices has no stale-free reference run; leave 'fresh' out of --strategies");
        try
        {
            Devices?.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidOptionException($"Device setting: {e.Message.Split('\n')[0].Trim()} (got {e.ActualValue}).");
        }
        try
        {
            Inversion.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidOptionException($"Inversion setting: {e.Message.Split('\n')[0].Trim()} (got {e.ActualValue}).");
        }
        return this;
    }

    private static void Require(bool condition, object value, string message)
    {
        if (!condition) throw new InvalidOptionException($"{message} (got {value}).");
    }
}
