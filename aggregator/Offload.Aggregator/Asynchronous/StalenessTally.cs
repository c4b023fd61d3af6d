using Offload.Aggregator.Strategies;

namespace Offload.Aggregator.Asynchronous;

/// <summary>
/// What asynchronous serving did with its updates, counted as they settle: per outcome, per device,
/// staleness, correction costs, and the devices' scores of the version being built. Shared by the
/// in-process coordinator and the Dapr deployment's, so both summaries mean the same.
/// </summary>
/// <remarks>Not thread-safe: the coordinator calls it under its own lock.</remarks>
public sealed class StalenessTally
{
    private readonly Dictionary<StalenessOutcome, long> _outcomes = [];
    private readonly Dictionary<string, Counts> _byClient = new(StringComparer.Ordinal);
    private readonly List<double> _cpu = [];
    private readonly List<double> _queue = [];
    private readonly List<ClientEvaluation> _evaluations = [];
    private long _maxStaleness;
    private double _stalenessSum;

    /// <summary>Updates counted and not refused.</summary>
    public long Folded { get; private set; }

    /// <summary>Update events that matched no reservation, dropped.</summary>
    public long Ignored { get; set; }

    /// <summary>Counts one settled update of <paramref name="clientId"/>, <paramref name="staleness"/> versions old.</summary>
    public void Count(string clientId, StalenessOutcome outcome, long staleness)
    {
        _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + 1;
        if (!_byClient.TryGetValue(clientId, out var counts)) _byClient[clientId] = counts = new Counts();
        counts.Updates++;
        if (outcome != StalenessOutcome.Refused)
        {
            Folded++;
            _stalenessSum += staleness;
            _maxStaleness = Math.Max(_maxStaleness, staleness);
        }
        if (staleness > 0)
        {
            counts.Stale++;
            counts.MaxStaleness = Math.Max(counts.MaxStaleness, staleness);
            if (outcome == StalenessOutcome.Corrected) counts.Corrected++;
            if (outcome is StalenessOutcome.FellBack or StalenessOutcome.BeyondWindow) counts.FellBack++;
        }
    }

    /// <summary>Records one correction's cost: CPU seconds, and seconds it waited for the corrector.</summary>
    public void Corrected(double cpuSeconds, double queueSeconds = 0)
    {
        _cpu.Add(cpuSeconds);
        _queue.Add(queueSeconds);
    }

    /// <summary>Keeps a device's score of the model it trained from, for the version being built.</summary>
    public void Evaluated(ClientEvaluation evaluation) => _evaluations.Add(evaluation);

    /// <summary>The federated evaluation of the version just published (null when no device scored), and a fresh start for the next.</summary>
    public FederatedEvaluation? TakeEvaluation(AggregationStrategy strategy, long version)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        var evaluation = _evaluations.Count > 0 ? strategy.Evaluate(version, [.. _evaluations]) : null;
        _evaluations.Clear();
        return evaluation;
    }

    /// <summary>A snapshot.</summary>
    public AsynchronousStatistics Snapshot(string corrector, string fallback, int window, long peakBytes)
    {
        var byClient = new List<ClientStaleness>(_byClient.Count);
        foreach (var (client, c) in _byClient) byClient.Add(new ClientStaleness(client, c.Updates, c.Stale, c.Corrected, c.FellBack, c.MaxStaleness));
        return new AsynchronousStatistics(corrector, fallback, new Dictionary<StalenessOutcome, long>(_outcomes), _maxStaleness,
            Folded == 0 ? 0 : _stalenessSum / Folded, _cpu.ToArray(), _queue.ToArray(), window, peakBytes, Ignored, byClient);
    }

    private sealed class Counts
    {
        public long Updates { get; set; }
        public long Stale { get; set; }
        public long Corrected { get; set; }
        public long FellBack { get; set; }
        public long MaxStaleness { get; set; }
    }
}
