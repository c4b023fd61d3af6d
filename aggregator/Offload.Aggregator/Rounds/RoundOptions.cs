using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Federation;

namespace Offload.Aggregator.Rounds;

/// <summary>Settings of synchronous rounds, immutable; <see cref="Validate"/> names the first bad one.</summary>
public sealed record RoundOptions
{
    /// <summary>Updates that close a round (the quorum).</summary>
    public int MinClients { get; init; } = 2;

    /// <summary>Tasks handed out per round; 0 means <see cref="MinClients"/>.</summary>
    public int ClientsPerRound { get; init; }

    /// <summary>A round closes this long after it opened if it has at least one update (otherwise at its first).</summary>
    public TimeSpan RoundDeadline { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Rounds to run.</summary>
    public int Rounds { get; init; } = 10;

    /// <summary>
    /// The algorithm (<see cref="StrategyCatalog"/>): what tasks ask clients to train with, how updates
    /// combine and the server's step. FedAvg unless the operator picks another.
    /// </summary>
    public AggregationStrategy Strategy { get; init; } = new FedAvg();

    /// <summary>Local training every task asks for, before the strategy configures it.</summary>
    public TrainingOptions Plan { get; init; } = new(1, 16, 0.1);

    /// <summary>How long a client told to wait should wait before asking again.</summary>
    public TimeSpan WaitRetry { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Fan-in bound of each round's aggregation tree (leaf, middle, top aggregators folding eagerly,
    /// <see cref="Hierarchy.AggregationTree"/>); 0 folds into one flat accumulator.
    /// </summary>
    public int HierarchyFanIn { get; init; }

    /// <summary>
    /// How devices download the model: full weights only (the default), or also each version's
    /// FedZip-encoded change from the previous one (<see cref="ModelBroadcast"/>).
    /// </summary>
    public DownstreamMode Downstream { get; init; } = DownstreamMode.Full;

    /// <summary>
    /// The encoder's settings for <see cref="DownstreamMode.FedZip"/> (top-z fraction, clusters). The
    /// default keeps 10% of each change (<see cref="DefaultDownstreamFedZip"/>), not the uplink's 1%.
    /// </summary>
    public FedZipOptions DownstreamFedZip { get; init; } = DefaultDownstreamFedZip;

    /// <summary>
    /// Top-z 0.1, 8 clusters: measured with five devices over five rounds (docs/benchmarks.md), it sends
    /// 37x fewer bytes than full weights at -2.3 points of accuracy, where z = 0.01 sends 129x fewer but
    /// costs 9.6 points, because every device trains from a view that lags the model by what was dropped.
    /// </summary>
    public static FedZipOptions DefaultDownstreamFedZip { get; } = new() { TopZ = 0.1 };

    /// <summary>Tasks handed out per round after defaults: <see cref="ClientsPerRound"/>, or <see cref="MinClients"/>.</summary>
    public int TasksPerRound => ClientsPerRound == 0 ? MinClients : ClientsPerRound;

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The message names the setting and its range.</exception>
    public RoundOptions Validate()
    {
        if (MinClients < 1) throw new ArgumentOutOfRangeException(nameof(MinClients), MinClients, "At least one client must close a round.");
        if (ClientsPerRound != 0 && ClientsPerRound < MinClients)
            throw new ArgumentOutOfRangeException(nameof(ClientsPerRound), ClientsPerRound, $"Clients per round must be 0 (= min clients) or at least the min clients {MinClients}.");
        if (RoundDeadline <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RoundDeadline), RoundDeadline, "The round deadline must be positive.");
        if (Rounds < 1) throw new ArgumentOutOfRangeException(nameof(Rounds), Rounds, "At least one round must run.");
        if (WaitRetry <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(WaitRetry), WaitRetry, "The wait before asking again must be positive.");
        if (HierarchyFanIn != 0 && HierarchyFanIn < 2)
            throw new ArgumentOutOfRangeException(nameof(HierarchyFanIn), HierarchyFanIn, "The tree's fan-in bound must be 0 (flat) or at least 2.");
        ArgumentNullException.ThrowIfNull(Plan);
        ArgumentNullException.ThrowIfNull(Strategy);
        if (!Enum.IsDefined(Downstream)) throw new ArgumentOutOfRangeException(nameof(Downstream), Downstream, "The downstream mode must be Full or FedZip.");
        ArgumentNullException.ThrowIfNull(DownstreamFedZip);
        return this;
    }
}
