using Offload.Core.Federation;
using Offload.Aggregator.Buffered;
using Offload.Aggregator.Inversion;
using Offload.Cli.Options;
using Offload.Aggregator.Staleness;
using Offload.Cli.Simulation.Asynchronous;
using Offload.Client.Inversion;
using Offload.Client.Training;
using Offload.Core.Data;

namespace Offload.Cli.Experiments.Staleness;

/// <summary>
/// The staleness-correction comparison of Wang and Gao ("Tackling the Unlimited Staleness in
/// Federated Learning with Intertwined Data and Device Heterogeneities", 2023) on Fashion-MNIST:
/// label-sorted shards (one per client, so each client holds one class), FedBuff with K equal to the
/// clients per round, and the clients of one class always training from the model tau versions old
/// (<see cref="FixedDelaySchedule"/>). Each strategy runs the same schedule from the same initial
/// model with the same seeds; <c>fresh</c> runs the same clients without delay, the reference that
/// a perfect correction would reach. With <see cref="StalenessExperimentOptions.Devices"/> set,
/// staleness instead emerges from log-normal device speeds and bandwidths in virtual time.
/// </summary>
public sealed class StalenessExperiment
{
    private readonly StalenessExperimentOptions _options;
    private readonly TrainTestDataset _data;
    private readonly TrainingOptions _training;

    /// <summary>Partitions the training set (shards, one per client) and finds the stale clients.</summary>
    /// <exception cref="InvalidOptionException">An option is out of range, or no client holds the stale class.</exception>
    public StalenessExperiment(StalenessExperimentOptions options, TrainTestDataset data)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(data);
        _options = options.Validate();
        _data = data;
        if (options.Clients > data.Train.Count)
            throw new InvalidOptionException($"--clients {options.Clients} exceeds the {data.Train.Count} training samples.");
        _training = new TrainingOptions(options.LocalEpochs, options.BatchSize, options.LearningRate);
        Partitions = PartitionScheme.Shards(1).Split(data.Train, options.Clients, options.Seed);
        Delayed = Partitions.Select(p => MajorityLabel(data.Train, p) == options.StaleClass).ToArray();
        if (!Delayed.Contains(true))
            throw new InvalidOptionException($"No client holds class {options.StaleClass} with {options.Clients} clients; use more clients.");
    }

    /// <summary>The clients' data.</summary>
    public IReadOnlyList<Partition> Partitions { get; }

    /// <summary>For each client, whether it is stale (its shard is mostly <see cref="StalenessExperimentOptions.StaleClass"/>).</summary>
    public IReadOnlyList<bool> Delayed { get; }

    /// <summary>The settings.</summary>
    public StalenessExperimentOptions Options => _options;

    /// <summary>Runs <paramref name="strategy"/> at staleness <paramref name="tau"/>.</summary>
    /// <exception cref="InvalidOptionException">The strategy is unknown.</exception>
    public StrategyOutcome Run(int tau, string strategy, IAsyncSimulationObserver? observer = null, CancellationToken cancellationToken = default)
    {
        var o = _options;
        var simulationOptions = new AsyncSimulationOptions
        {
            Versions = o.Rounds,
            Server = new FedBuffOptions { BufferSize = o.ClientsPerRound, HistoryWindow = tau + 1 },
            Training = _training,
            EvaluateEvery = o.EvaluateEvery,
            EvaluationSamples = o.EvaluationSamples,
            Workers = Math.Min(o.Workers, o.ClientsPerRound),
            CorrectionQueueCapacity = o.QueueCapacity,
            Seed = o.Seed,
            MeasureAgainstFresh = o.MeasureAgainstFresh,
            FedZip = o.FedZip,
        };
        var train = _data.Train;
        using var simulation = new AsyncSimulation(simulationOptions, train, _data.Test, Partitions,
            _ => TorchTrainer.CreateDefault(o.Seed, train.Rows, train.Columns, train.ClassCount));
        IArrivalSchedule schedule = o.Devices is null
            ? new FixedDelaySchedule(o.Clients, o.ClientsPerRound, Delayed, strategy == "fresh" ? 0 : tau, o.Seed)
            : new VirtualTimeSchedule(o.Devices, Partitions.Select(p => p.Count).ToArray(), o.LocalEpochs,
                (long)simulation.Layout.TotalLength * sizeof(float), o.ClientsPerRound, o.Seed);
        var corrector = CreateCorrector(strategy, simulation.Layout);
        var result = simulation.Run(schedule, corrector, observer, cancellationToken);
        var inversion = corrector as InversionCorrector;
        return new StrategyOutcome(tau, strategy, result, inversion?.FallBackRate ?? 0, inversion?.WarmStartBytes ?? 0);
    }

    /// <summary>The corrector named <paramref name="strategy"/>, configured from the options (<see cref="CorrectorCatalog"/>; <c>fresh</c> runs unweighted).</summary>
    /// <exception cref="InvalidOptionException">The strategy is unknown.</exception>
    public IStalenessCorrector CreateCorrector(string strategy, Offload.Core.Model.TensorLayout layout)
    {
        var o = _options;
        var train = _data.Train;
        int samples = (int)Math.Round(Partitions.Where((_, i) => Delayed[i]).Average(p => p.Count));
        var settings = new CorrectorSettings
        {
            PolynomialExponent = o.PolynomialExponent,
            HingeSlope = o.HingeSlope,
            HingeThreshold = o.HingeThreshold,
            DcLambda = o.DcLambda,
            Inversion = o.Inversion,
            UnrolledSteps = o.UnrolledSteps,
            GateThreshold = o.GateThreshold,
            Seed = o.Seed,
        };
        return CorrectorCatalog.Create(strategy == "fresh" ? "none" : strategy, settings, layout, (train.Rows, train.Columns, train.ClassCount), _training, samples);
    }

    private static int MajorityLabel(ImageDataset data, Partition partition)
    {
        Span<int> counts = stackalloc int[data.ClassCount];
        foreach (int i in partition.Indices) counts[data.Labels[i]]++;
        int best = 0;
        for (int c = 1; c < counts.Length; c++)
            if (counts[c] > counts[best]) best = c;
        return best;
    }
}
