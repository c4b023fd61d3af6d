using Offload.Aggregator.Accumulation;
using Offload.Aggregator.Kernels;
using Offload.Aggregator.Strategies;
using Offload.Core.Model;

namespace Offload.Aggregator.Buffered;

/// <summary>
/// The server side of FedBuff (Nguyen et al. 2022), free of any host: updates arrive one by one,
/// each carrying the version it was computed from; every <see cref="FedBuffOptions.BufferSize"/>
/// arrivals the buffered mean is applied and a new version published into a bounded
/// <see cref="ModelHistory"/>. An arrival that brings nothing (its base left the window, or the host
/// refused it and called <see cref="Discard"/>) still counts towards the K, so the server's pace
/// depends only on arrivals; a buffer with nothing folded publishes the model unchanged. The mean is sum(n_i s_i delta_i) / sum(n_i) over the buffer, with
/// n_i the sample count and s_i the staleness scale a corrector chose, so a down-weighted stale
/// update moves the model less rather than just counting less against the others.
/// Not thread-safe: the host serialises <see cref="Fold"/>.
/// </summary>
public sealed class BufferedAggregator : IDisposable
{
    private readonly FedBuff _strategy;
    private readonly ServerState _state;
    private readonly UpdateAccumulator _accumulator;
    private readonly float[] _mean;
    private double _sampleTotal;
    private int _arrivals;

    /// <summary>Publishes <paramref name="initialWeights"/> as <see cref="ModelVersion.Initial"/>.</summary>
    /// <exception cref="ArgumentException">The weights do not match the layout or are not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public BufferedAggregator(FedBuffOptions options, TensorLayout layout, ReadOnlySpan<float> initialWeights)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(layout);
        Options = options.Validate();
        layout.EnsureMatches(initialWeights, nameof(initialWeights));
        int bad = ModelUpdate.FirstNonFinite(initialWeights);
        if (bad >= 0) throw new ArgumentException($"Initial weight at index {bad} is {initialWeights[bad]}; weights must be finite.", nameof(initialWeights));
        _strategy = new FedBuff(options.BufferSize, options.ServerLearningRate);
        _state = _strategy.InitialState();
        Layout = layout;
        History = new ModelHistory(layout, options.HistoryWindow);
        History.Publish(ModelVersion.Initial, initialWeights.ToArray());
        _accumulator = new UpdateAccumulator(layout);
        _mean = new float[layout.TotalLength];
    }

    /// <summary>The settings.</summary>
    public FedBuffOptions Options { get; }

    /// <summary>The layout of models and updates.</summary>
    public TensorLayout Layout { get; }

    /// <summary>The window of past global models (current one included).</summary>
    public ModelHistory History { get; }

    /// <summary>The current global version.</summary>
    public ModelVersion CurrentVersion => History.Newest;

    /// <summary>The current global weights (an immutable snapshot of <see cref="CurrentVersion"/>).</summary>
    public ReadOnlyMemory<float> CurrentWeights
    {
        get
        {
            History.TryGet(History.Newest, out var weights);
            return weights;
        }
    }

    /// <summary>Arrivals in the current buffer (folded or not).</summary>
    public int Buffered => _arrivals;

    /// <summary>Arrivals that brought nothing: the base version had left the window, or the host discarded them.</summary>
    public long Dropped { get; private set; }

    /// <summary>Updates folded in so far.</summary>
    public long Accepted { get; private set; }

    /// <summary>
    /// Folds one update: weight = sample count * <paramref name="stalenessScale"/>. Publishes a new
    /// version when the buffer is full. An update whose base left the window is dropped, not folded,
    /// but counts as an arrival, unless <paramref name="beyondWindow"/> says the caller already
    /// weighted it for its staleness (a fall-back that needs no base model). A refused update
    /// (exception) leaves the aggregator unchanged.
    /// </summary>
    /// <exception cref="ArgumentException">The delta does not match the layout, holds a NaN or infinity, or its base version is ahead of the current one.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The sample count is not positive, or the scale is not positive and finite.</exception>
    public FoldResult Fold(ReadOnlySpan<float> delta, long sampleCount, ModelVersion baseVersion, double stalenessScale = 1.0, bool beyondWindow = false)
    {
        Layout.EnsureMatches(delta, nameof(delta));
        if (sampleCount <= 0) throw new ArgumentOutOfRangeException(nameof(sampleCount), sampleCount, "An update must come from at least one sample.");
        if (!(stalenessScale > 0) || !double.IsFinite(stalenessScale))
            throw new ArgumentOutOfRangeException(nameof(stalenessScale), stalenessScale, "The staleness scale must be positive and finite.");
        if (baseVersion.CompareTo(CurrentVersion) > 0)
            throw new ArgumentException($"The update's base version {baseVersion} is ahead of the current version {CurrentVersion}.", nameof(baseVersion));
        long staleness = baseVersion.StalenessAt(CurrentVersion);
        if (!beyondWindow && baseVersion.CompareTo(History.Oldest) < 0) return Discard(baseVersion);
        var receipt = new UpdateReceipt(sampleCount, baseVersion, CurrentVersion);
        double weight = _strategy.WeightOf(receipt);
        _accumulator.Add(delta, weight * stalenessScale); // Validates finiteness before changing anything.
        _sampleTotal += weight;
        Accepted++;
        return Arrived(staleness);
    }

    /// <summary>
    /// Counts an arrival that brings nothing (the host refused it, e.g. its training diverged), so that
    /// the buffer still closes after K arrivals.
    /// </summary>
    /// <exception cref="ArgumentException">The base version is ahead of the current one.</exception>
    public FoldResult Discard(ModelVersion baseVersion)
    {
        if (baseVersion.CompareTo(CurrentVersion) > 0)
            throw new ArgumentException($"The update's base version {baseVersion} is ahead of the current version {CurrentVersion}.", nameof(baseVersion));
        Dropped++;
        var result = Arrived(baseVersion.StalenessAt(CurrentVersion));
        return result with { Accepted = false };
    }

    private FoldResult Arrived(long staleness)
    {
        _arrivals++;
        if (_arrivals < Options.BufferSize) return new FoldResult(true, staleness, false, CurrentVersion);

        var next = CurrentWeights.ToArray();
        if (_accumulator.Count > 0)
        {
            AggregationKernels.WeightedMean(_accumulator.Sum, _sampleTotal, _mean);
            _strategy.Aggregate(_mean, _accumulator.Count, next, _state);
        }
        var version = CurrentVersion.Next();
        History.Publish(version, next);
        _accumulator.Reset();
        _sampleTotal = 0;
        _arrivals = 0;
        return new FoldResult(true, staleness, true, version);
    }

    public void Dispose() => _accumulator.Dispose();
}
