using System.Diagnostics;
using Offload.Aggregator.Buffered;
using Offload.Aggregator.Staleness;
using Offload.Client.Training;
using Offload.Core.Codec;
using Offload.Core.Data;
using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>
/// Buffered asynchronous federated learning (FedBuff) in one process and in virtual time. An
/// <see cref="IArrivalSchedule"/> says who arrives from which version; the clients of a buffer are
/// trained concurrently from their base models (held in the server's bounded window), stale updates
/// go to a <see cref="CorrectionQueue"/> as soon as they are trained (ingest never waits for a
/// correction unless the queue is full), and when the buffer is complete its updates are folded in
/// arrival order, so a run is deterministic by seed however threads interleave.
/// </summary>
public sealed class AsyncSimulation : IDisposable
{
    private readonly AsyncSimulationOptions _options;
    private readonly ImageDataset _train;
    private readonly ImageDataset _test;
    private readonly IReadOnlyList<Partition> _partitions;
    private readonly ITrainer[] _trainers;
    private readonly float[] _initial;
    private readonly IUpdateCodec _codec;
    private readonly ErrorFeedback?[] _residuals;

    /// <summary>Sets up the workers; the initial global model is the first trainer's weights.</summary>
    /// <param name="trainerFactory">Creates one trainer per worker (called on this thread); all must share a layout.</param>
    /// <exception cref="ArgumentException">The trainers' layouts differ.</exception>
    /// <exception cref="InvalidOptionException">An option is out of range.</exception>
    public AsyncSimulation(AsyncSimulationOptions options, ImageDataset train, ImageDataset test,
        IReadOnlyList<Partition> partitions, Func<int, ITrainer> trainerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentNullException.ThrowIfNull(trainerFactory);
        _options = options.Validate();
        _train = train;
        _test = test;
        _partitions = partitions;
        _trainers = new ITrainer[options.Workers];
        for (int w = 0; w < _trainers.Length; w++)
        {
            _trainers[w] = trainerFactory(w);
            if (!_trainers[w].Layout.Equals(_trainers[0].Layout))
                throw new ArgumentException($"Trainer {w} has layout {_trainers[w].Layout}; trainer 0 has {_trainers[0].Layout}.", nameof(trainerFactory));
        }
        Layout = _trainers[0].Layout;
        _initial = new float[Layout.TotalLength];
        _trainers[0].ExportWeights(_initial);
        _codec = options.FedZip is null ? IdentityCodec.Instance : new FedZipCodec(options.FedZip);
        _residuals = new ErrorFeedback?[partitions.Count];
    }

    /// <summary>The model's layout.</summary>
    public TensorLayout Layout { get; }

    /// <summary>The initial global model (version 0).</summary>
    public ReadOnlySpan<float> InitialWeights => _initial;

    /// <summary>Runs <see cref="AsyncSimulationOptions.Versions"/> versions under <paramref name="schedule"/>, correcting stale updates with <paramref name="corrector"/>.</summary>
    /// <exception cref="ArgumentException">A client of the schedule has no partition.</exception>
    public AsyncSimulationResult Run(IArrivalSchedule schedule, IStalenessCorrector corrector,
        IAsyncSimulationObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(corrector);
        var wall = Stopwatch.StartNew();
        int k = schedule.BufferSize;
        using var server = new BufferedAggregator(_options.Server with { BufferSize = k }, Layout, _initial);
        using var queue = new CorrectionQueue(corrector, _options.CorrectionQueueCapacity);
        var deltas = new float[k][];
        for (int i = 0; i < k; i++) deltas[i] = new float[Layout.TotalLength];
        var records = new List<VersionRecord>(_options.Versions);
        var costs = new List<CorrectionCost>();

        for (int v = 1; v <= _options.Versions; v++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            var current = server.CurrentVersion;
            var arrivals = schedule.NextBuffer(current);
            var pending = TrainBuffer(server, queue, arrivals, deltas, v, cancellationToken);

            int stale = 0, corrected = 0, weighted = 0, fellBack = 0, dropped = 0, folded = 0;
            long maxStaleness = 0;
            double stalenessSum = 0;
            for (int slot = 0; slot < arrivals.Count; slot++)
            {
                var arrival = arrivals[slot];
                long staleness = arrival.BaseVersion.StalenessAt(current);
                if (pending[slot].Dropped)
                {
                    server.Discard(arrival.BaseVersion);
                    dropped++;
                    continue;
                }
                ReadOnlyMemory<float> delta = deltas[slot];
                double scale = 1;
                if (pending[slot].Correction is { } task)
                {
                    var done = task.GetAwaiter().GetResult();
                    var c = done.Correction;
                    delta = c.Delta;
                    scale = c.Scale;
                    stale++;
                    switch (c.Outcome)
                    {
                        case CorrectionOutcome.Corrected: corrected++; break;
                        case CorrectionOutcome.Weighted: weighted++; break;
                        case CorrectionOutcome.FellBack: fellBack++; break;
                    }
                    var (foldedError, staleError) = _options.MeasureAgainstFresh
                        ? MeasureAgainstFresh(arrival.Client, v, server.CurrentWeights.Span, delta.Span, scale, deltas[slot], cancellationToken)
                        : (null, null);
                    costs.Add(new CorrectionCost(v, arrival.Client, staleness, c.Outcome, done.CpuSeconds, done.WallSeconds, c.RelativeError, foldedError, staleError));
                }
                try
                {
                    server.Fold(delta.Span, _partitions[arrival.Client].Count, arrival.BaseVersion, scale);
                    folded++;
                    stalenessSum += staleness;
                    maxStaleness = Math.Max(maxStaleness, staleness);
                }
                catch (ArgumentException)
                {
                    server.Discard(arrival.BaseVersion); // A diverged update (NaN or infinity) is refused, not folded.
                    dropped++;
                }
            }

            double accuracy = double.NaN, loss = double.NaN;
            if (v % _options.EvaluateEvery == 0 || v == _options.Versions)
            {
                var evaluation = Evaluate(server.CurrentWeights.Span);
                accuracy = evaluation.Accuracy;
                loss = evaluation.MeanLoss;
            }
            var record = new VersionRecord(v, accuracy, loss, arrivals[^1].Time, folded, stale,
                folded == 0 ? 0 : stalenessSum / folded, maxStaleness, corrected, weighted, fellBack, dropped, clock.Elapsed.TotalSeconds);
            records.Add(record);
            observer?.VersionPublished(record);
        }
        return new AsyncSimulationResult(records, costs, server.CurrentWeights.ToArray(), wall.Elapsed.TotalSeconds,
            server.History.PeakBytesHeld, server.History.Capacity, server.Dropped);
    }

    /// <summary>Trains the buffer's clients on the workers; each stale update is enqueued for correction in arrival order as soon as it is trained.</summary>
    private (bool Dropped, Task<CorrectedUpdate>? Correction)[] TrainBuffer(BufferedAggregator server, CorrectionQueue queue,
        IReadOnlyList<Arrival> arrivals, float[][] deltas, int version, CancellationToken cancellationToken)
    {
        var current = server.CurrentVersion;
        var currentWeights = server.CurrentWeights;
        var pending = new (bool Dropped, Task<CorrectedUpdate>? Correction)[arrivals.Count];
        var commit = new OrderedCommit();
        int next = -1;

        void Work(int worker)
        {
            while (true)
            {
                int slot = Interlocked.Increment(ref next);
                if (slot >= arrivals.Count) return;
                try
                {
                    var arrival = arrivals[slot];
                    if ((uint)arrival.Client >= (uint)_partitions.Count)
                        throw new ArgumentException($"The schedule names client {arrival.Client}; there are {_partitions.Count} partitions.", nameof(arrivals));
                    bool inWindow = server.History.TryGet(arrival.BaseVersion, out var baseWeights);
                    bool diverged = false;
                    if (inWindow)
                    {
                        try
                        {
                            _trainers[worker].Train(baseWeights.Span, _train, _partitions[arrival.Client].Indices, _options.Training,
                                ClientSeed.ForTask(_options.Seed, arrival.BaseVersion, arrival.Client), deltas[slot], cancellationToken);
                        }
                        catch (TrainingDivergedException)
                        {
                            diverged = true; // As in the synchronous simulation: a client whose training blew up sends nothing (counted as dropped).
                        }
                        if (!diverged) diverged = !Travel(arrival.Client, deltas[slot]);
                    }
                    commit.InTurn(slot, () =>
                    {
                        if (!inWindow || diverged)
                        {
                            pending[slot] = (true, null);
                            return;
                        }
                        if (arrival.BaseVersion.Equals(current) || ModelUpdate.FirstNonFinite(deltas[slot]) >= 0) return;
                        var update = new StaleUpdate(arrival.Client, Layout, deltas[slot], _partitions[arrival.Client].Count,
                            arrival.BaseVersion, baseWeights, current, currentWeights);
                        // Waits only when the queue is full: the queue pushes back on ingest.
                        pending[slot] = (false, queue.EnqueueAsync(update, cancellationToken).AsTask().GetAwaiter().GetResult());
                    });
                }
                catch
                {
                    // Release the workers waiting for this slot's turn; the run is abandoned.
                    commit.Fail();
                    throw;
                }
            }
        }

        int workers = Math.Min(_trainers.Length, arrivals.Count);
        var tasks = new Task[workers];
        for (int w = 0; w < workers; w++)
        {
            int worker = w;
            tasks[w] = Task.Factory.StartNew(() => Work(worker), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        Task.WaitAll(tasks, cancellationToken);
        return pending;
    }

    /// <summary>
    /// Sends <paramref name="delta"/> as the synchronous simulation and devices do: encoded (through the
    /// client's error feedback with FedZip) and decoded back in place, so the server sees what the wire
    /// carries. False when it cannot be encoded (not finite): the client sends nothing.
    /// </summary>
    private bool Travel(int client, float[] delta)
    {
        byte[] payload;
        try
        {
            payload = _options.FedZip is null ? _codec.Encode(delta, Layout) : (_residuals[client] ??= new ErrorFeedback(_codec, Layout, _options.FedZip.ErrorFeedback)).Encode(delta);
        }
        catch (ArgumentException)
        {
            return false;
        }
        _codec.Decode(payload, Layout, delta);
        return true;
    }

    /// <summary>Trains <paramref name="client"/> from the current model, as it would have without staleness, and compares.</summary>
    private (double?, double?) MeasureAgainstFresh(int client, int version, ReadOnlySpan<float> current, ReadOnlySpan<float> folded, double scale,
        ReadOnlySpan<float> stale, CancellationToken cancellationToken)
    {
        var fresh = new float[Layout.TotalLength];
        _trainers[0].Train(current, _train, _partitions[client].Indices, _options.Training, ClientSeed.ForTask(_options.Seed, new ModelVersion(version - 1), client), fresh, cancellationToken);
        var scaled = new float[fresh.Length];
        System.Numerics.Tensors.TensorPrimitives.Multiply(folded, (float)scale, scaled);
        return (StalenessKernels.RelativeError(fresh, scaled), StalenessKernels.RelativeError(fresh, stale));
    }

    /// <summary>Evaluates <paramref name="weights"/> on the test set (or its first <see cref="AsyncSimulationOptions.EvaluationSamples"/>), split over the workers.</summary>
    public EvaluationResult Evaluate(ReadOnlySpan<float> weights) =>
        SplitEvaluation.Run(_trainers, weights, _test,
            _options.EvaluationSamples == 0 ? _test.Count : Math.Min(_options.EvaluationSamples, _test.Count));

    public void Dispose()
    {
        foreach (var trainer in _trainers) trainer.Dispose();
    }
}
