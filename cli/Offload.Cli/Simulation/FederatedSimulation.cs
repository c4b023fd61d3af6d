using System.Diagnostics;
using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.Placement;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Strategies;
using Offload.Client.Training;
using Offload.Core.Codec;
using Offload.Core.Data;
using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Cli.Simulation;

/// <summary>
/// Synchronous federated learning in one process: each round selects clients, trains them
/// concurrently (one <see cref="ITrainer"/> per worker, so memory holds one model copy per
/// concurrently training client plus the accumulator), folds each update into the accumulator as
/// it arrives, applies the strategy's server step and evaluates the new global model.
/// Updates are folded in client order (a worker that finishes early waits its turn), so a run is
/// deterministic by seed however the threads interleave. Training seeds come from
/// <see cref="ClientSeed"/>, stable across processes, so a device in its own process
/// (<c>offload client</c>) trains exactly as its simulated counterpart.
/// Every update travels as a real payload (FedZip, or raw float32 through the identity codec) and is
/// folded by fused decode-and-add, so the bytes reported are the bytes a network would carry.
/// With FedZip each client keeps an error-feedback residual (two model-sized buffers per client that
/// has taken part: client state, which a real device holds itself). With downstream compression the
/// server sends each round's change of the global model as a FedZip payload and tracks the model the
/// clients reconstruct (<see cref="ModelBroadcast"/>); the next change includes whatever was dropped before, so
/// the downlink carries its own error feedback. Clients are assumed to start from the seeded initial model.
/// </summary>
public sealed class FederatedSimulation : IDisposable
{
    private readonly SimulationOptions _options;
    private readonly ImageDataset _train;
    private readonly ImageDataset _test;
    private readonly IReadOnlyList<Partition> _partitions;
    private readonly AggregationStrategy _strategy;
    private readonly ServerState _serverState;
    private readonly TrainingOptions _training;
    private readonly ITrainer[] _trainers;
    private readonly float[][] _updateBuffers;
    private readonly float[] _global;
    private readonly IUpdateCodec _codec;
    private readonly ErrorFeedback?[] _residuals;
    private readonly ModelBroadcast? _broadcast;
    private readonly PlacementNode[]? _cluster;
    private readonly int[]? _landing;

    /// <summary>Sets up workers and the initial global model (seeded).</summary>
    /// <param name="trainerFactory">Creates one trainer per worker; called on this thread with the worker index.</param>
    /// <exception cref="ArgumentException">The partitions do not match the client count or name samples outside the training set.</exception>
    public FederatedSimulation(SimulationOptions options, ImageDataset train, ImageDataset test,
        IReadOnlyList<Partition> partitions, Func<int, ITrainer> trainerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentNullException.ThrowIfNull(trainerFactory);
        _options = options.Validate();
        if (partitions.Count != options.Clients)
            throw new ArgumentException($"{partitions.Count} partitions for {options.Clients} clients.", nameof(partitions));
        _train = train;
        _test = test;
        _partitions = partitions;
        _strategy = _options.Strategy;
        _serverState = _strategy.InitialState();
        _training = new TrainingOptions(options.LocalEpochs, options.BatchSize, options.LearningRate);

        int workers = Math.Min(options.Workers, options.ClientsPerRound);
        _trainers = new ITrainer[workers];
        _updateBuffers = new float[workers][];
        for (int w = 0; w < workers; w++)
        {
            _trainers[w] = trainerFactory(w);
            _updateBuffers[w] = new float[_trainers[w].Layout.TotalLength];
        }
        Layout = _trainers[0].Layout;
        _global = new float[Layout.TotalLength];
        _trainers[0].ExportWeights(_global);
        _codec = options.FedZip is null ? IdentityCodec.Instance : new FedZipCodec(options.FedZip);
        _residuals = new ErrorFeedback?[options.Clients];
        if (options.Downstream == DownstreamMode.FedZip)
            _broadcast = new ModelBroadcast(new GlobalModel(Layout, ModelVersion.Initial, _global), DownstreamMode.FedZip, options.DownstreamFedZip);
        if (options.Nodes > 1)
        {
            // A device reaches one gateway replica for the whole federation: its node is drawn once.
            var random = new Random(ClientSeed.For(options.Seed, 0, ClientSeed.Cluster));
            _cluster = SimulatedCluster.Nodes(random, options.Nodes);
            _landing = SimulatedCluster.Landings(random, options.Nodes, options.Clients, options.NodeSkew);
        }
    }

    /// <summary>Byzantine clients, which replace their update before it is encoded, or null (every client honest).</summary>
    public ByzantineClients? Attack { get; set; }

    /// <summary>Sees each update and its payload (for measuring other encodings), or null.</summary>
    public IUpdateTap? Tap { get; set; }

    /// <summary>
    /// A FedAvg simulation of the default CNN on an image data set: one seeded <see cref="TorchTrainer"/>
    /// per worker, and libtorch's intra-op threads set so workers times threads fills the cores.
    /// </summary>
    public static FederatedSimulation OnImages(SimulationOptions options, TrainTestDataset data, IReadOnlyList<Partition> partitions, IUpdateTap? tap = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(data);
        TorchSharp.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / Math.Min(options.Workers, options.ClientsPerRound)));
        var train = data.Train;
        return new FederatedSimulation(options, train, data.Test, partitions,
            _ => TorchTrainer.CreateDefault(options.Seed, train.Rows, train.Columns, train.ClassCount))
        {
            Tap = tap,
        };
    }

    /// <summary>The model's parameter layout.</summary>
    public TensorLayout Layout { get; }

    /// <summary>The current global model.</summary>
    public ReadOnlySpan<float> GlobalWeights => _global;

    /// <summary>Number of workers (concurrently training clients).</summary>
    public int Workers => _trainers.Length;

    /// <summary>Runs every round and returns the per-round records and the final model.</summary>
    public SimulationResult Run(ISimulationObserver? observer = null, CancellationToken cancellationToken = default)
    {
        var wall = Stopwatch.StartNew();
        var records = new List<RoundRecord>(_options.Rounds);
        var version = ModelVersion.Initial;
        for (int round = 1; round <= _options.Rounds; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var record = RunRound(round, version, observer, cancellationToken);
            version = version.Next();
            records.Add(record);
            observer?.RoundFinished(record);
        }
        return new SimulationResult(records, (float[])_global.Clone(), wall.Elapsed.TotalSeconds,
            Process.GetCurrentProcess().PeakWorkingSet64);
    }

    /// <summary>The clients of round <paramref name="round"/>: a seeded sample without replacement, in ascending order.</summary>
    public int[] SelectClients(int round)
    {
        int m = _options.ClientsPerRound;
        var all = new int[_options.Clients];
        for (int i = 0; i < all.Length; i++) all[i] = i;
        new Random(ClientSeed.For(_options.Seed, round, ClientSeed.Selection)).Shuffle(all);
        var chosen = all.AsSpan(0, m).ToArray();
        Array.Sort(chosen);
        return chosen;
    }

    private RoundRecord RunRound(int round, ModelVersion version, ISimulationObserver? observer, CancellationToken cancellationToken)
    {
        var roundClock = Stopwatch.StartNew();
        int[] selected = SelectClients(round);
        observer?.RoundStarted(round, selected.Length);
        var training = _strategy.Configure(round, _training);
        using var tree = new AggregationTree(Layout, _options.HierarchyFanIn > 0
            ? TreePlanner.Plan(selected.Length, _options.HierarchyFanIn)
            : TreePlanner.Flat(selected.Length), round, _strategy);
        int folded = 0;
        long bytesUp = 0;
        var (startWeights, downloadBytes) = SendModel(version);
        var commit = new OrderedCommit();
        int next = -1, finished = 0, rejected = 0;
        long aggregateTicks = 0;
        double trainLossSum = 0;

        // Runs in client order (OrderedCommit), so sums do not depend on thread timing.
        void Fold(int slot, int client, TrainingResult? result, byte[]? payload)
        {
            long start = Stopwatch.GetTimestamp();
            if (payload is null || result is null)
            {
                rejected++; // A diverged client (NaN or infinity) sends nothing: the SDK skips such a round.
            }
            else
            {
                double weight = _strategy.WeightOf(new UpdateReceipt(result.SampleCount, version, version));
                bytesUp += payload.Length;
                tree.FoldEncoded(slot, $"client-{client}", _codec, payload, weight);
                folded++;
                trainLossSum += result.MeanLoss;
            }
            aggregateTicks += Stopwatch.GetTimestamp() - start;
            observer?.ClientFinished(round, ++finished, selected.Length);
        }

        void Work(int worker)
        {
            var trainer = _trainers[worker];
            var update = _updateBuffers[worker];
            while (true)
            {
                int slot = Interlocked.Increment(ref next);
                if (slot >= selected.Length) return;
                int client = selected[slot];
                try
                {
                    TrainingResult? result;
                    try
                    {
                        result = trainer.Train(startWeights.Span, _train, _partitions[client].Indices, training,
                            ClientSeed.For(_options.Seed, round, client), update, cancellationToken);
                    }
                    catch (TrainingDivergedException)
                    {
                        result = null; // A model an attack blew up: this client's training diverges, and it sends nothing.
                    }
                    byte[]? payload = null;
                    if (result is not null)
                    {
                        // A Byzantine client sends something else than it trained (the robustness experiments).
                        Attack?.Tamper(round, client, update);
                        payload = Upload(client, update);
                        if (payload is not null) Tap?.Encoded(round, client, update, payload);
                    }
                    commit.InTurn(slot, () => Fold(slot, client, result, payload));
                }
                catch
                {
                    // Release the workers waiting for this slot's turn; the round is abandoned.
                    commit.Fail();
                    throw;
                }
            }
        }

        var trainClock = Stopwatch.StartNew();
        var tasks = new Task[_trainers.Length];
        for (int w = 0; w < tasks.Length; w++)
        {
            int worker = w;
            tasks[w] = Task.Factory.StartNew(() => Work(worker), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        Task.WaitAll(tasks, cancellationToken);
        double trainSeconds = trainClock.Elapsed.TotalSeconds;

        long applyStart = Stopwatch.GetTimestamp();
        var step = tree.Publish(_strategy, _global, _serverState);
        aggregateTicks += Stopwatch.GetTimestamp() - applyStart;

        var evalClock = Stopwatch.StartNew();
        var evaluation = Evaluate(_global);
        double evalSeconds = evalClock.Elapsed.TotalSeconds;

        var placement = folded > 0 ? Place(round, selected, bytesUp / folded) : null;
        return new RoundRecord(round, evaluation.Accuracy, evaluation.MeanLoss,
            BytesUp: bytesUp, BytesDown: downloadBytes * selected.Length,
            Seconds: roundClock.Elapsed.TotalSeconds, TrainSeconds: trainSeconds,
            AggregateSeconds: Stopwatch.GetElapsedTime(0, aggregateTicks).TotalSeconds,
            EvaluateSeconds: evalSeconds, Clients: folded, Rejected: rejected,
            TrainLoss: folded == 0 ? double.NaN : trainLossSum / folded, UpdateNorm: step.UpdateNorm, StepNorm: step.StepNorm, Placement: placement);
    }

    /// <summary>
    /// The round's tree placed on the simulated nodes, planned and round-robin (<see cref="SimulationOptions.Nodes"/>),
    /// from where the round's clients landed and their mean payload; null with one node. The selected
    /// clients stand for the round's arrivals (a diverged one sent nothing, and is one update too many here).
    /// </summary>
    private RoundPlacement? Place(int round, int[] selected, long meanUpdateBytes)
    {
        if (_cluster is null || _landing is null) return null;
        var landed = new int[selected.Length];
        for (int i = 0; i < selected.Length; i++) landed[i] = _landing[selected[i]];
        var demand = new PlacementDemand(SimulatedCluster.CountPerNode(landed, _cluster.Length), Math.Max(1, meanUpdateBytes),
            (long)Layout.TotalLength * sizeof(float), _options.PlacementFanIn);
        var planned = PlacementPlanner.Plan(_cluster, demand);
        var baseline = PlacementPlanner.RoundRobin(_cluster, demand, ClientSeed.For(_options.Seed, round, ClientSeed.PlacementBaseline));
        return new RoundPlacement(planned.LocalFraction, baseline.LocalFraction, planned.CrossNodeBytes, baseline.CrossNodeBytes, planned.Aggregators.Count, planned.Overcommitted);
    }

    /// <summary>
    /// Encodes a client's update as it would go on the wire, through the client's error-feedback
    /// residual when FedZip is on; null when the update is not finite (a diverged client).
    /// </summary>
    private byte[]? Upload(int client, float[] update)
    {
        if (ModelUpdate.FirstNonFinite(update) >= 0) return null;
        if (_options.FedZip is null) return _codec.Encode(update, Layout);
        // Each client is trained by one worker at a time, so its residual is never shared.
        var residual = _residuals[client] ??= new ErrorFeedback(_codec, Layout, _options.FedZip.ErrorFeedback);
        return residual.Encode(update);
    }

    /// <summary>
    /// What each selected client downloads this round and trains from: the whole model as a raw
    /// payload, or with downstream compression the FedZip-encoded change since the model the clients
    /// hold, through the gateway's own <see cref="ModelBroadcast"/> (the clients' view moves by exactly
    /// what the payload decodes to; the change is empty in round 1, when they hold the seeded model).
    /// </summary>
    private (ReadOnlyMemory<float> Weights, long Bytes) SendModel(ModelVersion version)
    {
        long full = IdentityCodec.Instance.GetMaxEncodedLength(Layout); // Fixed size: header, floats, CRC.
        if (_broadcast is null) return (_global, full);
        var view = _broadcast.Publish(new GlobalModel(Layout, version, _global));
        return (view.Weights, view.Change?.Payload.Length ?? full);
    }

    /// <summary>Evaluates <paramref name="weights"/> on the test set, split over the workers.</summary>
    public EvaluationResult Evaluate(ReadOnlySpan<float> weights) => SplitEvaluation.Run(_trainers, weights, _test, _test.Count);

    public void Dispose()
    {
        foreach (var trainer in _trainers) trainer.Dispose();
    }
}
