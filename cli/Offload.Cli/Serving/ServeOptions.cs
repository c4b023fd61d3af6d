namespace Offload.Cli.Serving;

/// <summary>Settings of <c>offload serve</c>, immutable; <see cref="Validate"/> names the first bad one.</summary>
public sealed record ServeOptions
{
    /// <summary>Port to listen on (cleartext HTTP/2); null takes Kestrel endpoints from configuration.</summary>
    public int? Port { get; init; } = 5000;

    /// <summary>Address to bind with <see cref="Port"/>.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The algorithm (<c>--strategy</c>); with the Dapr aggregator the functions run whatever each round names.</summary>
    public Offload.Aggregator.Strategies.AggregationStrategy Strategy { get; init; } = new Offload.Aggregator.Strategies.FedAvg();

    /// <summary>Whether tasks ask devices to score the model on their own data before training (federated evaluation).</summary>
    public bool ClientEvaluation { get; init; } = true;

    /// <summary>Updates that close a round.</summary>
    public int MinClients { get; init; } = 2;

    /// <summary>Tasks per round; 0 means <see cref="MinClients"/>.</summary>
    public int ClientsPerRound { get; init; }

    /// <summary>Seconds after which a round with at least one update closes.</summary>
    public double RoundDeadlineSeconds { get; init; } = 300;

    /// <summary>Rounds to run.</summary>
    public int Rounds { get; init; } = 10;

    /// <summary>Local epochs per task (E).</summary>
    public int LocalEpochs { get; init; } = 1;

    /// <summary>Local batch size (B).</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Local learning rate.</summary>
    public double LearningRate { get; init; } = 0.1;

    /// <summary>Seed of the initial model (clients must use the same one).</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Width of the default model's dense layer fc1 (<c>--hidden</c>), which sets the model's size; clients must use the same.</summary>
    public int Hidden { get; init; } = Options.HiddenWidthOption.Default;

    /// <summary>The codec tasks ask for: identity (exact) or FedZip (compressed, lossy).</summary>
    public Offload.Core.Codec.PayloadCodec Codec { get; init; } = Offload.Core.Codec.PayloadCodec.Identity;

    /// <summary>Largest update accepted, in MiB.</summary>
    public double MaxUpdateMegabytes { get; init; } = 64;

    /// <summary>What the gateway does with an update whose L2 norm is above the bound (<c>--update-norm refuse|clip</c>).</summary>
    public Offload.Gateway.Service.UpdateNormPolicy UpdateNorm { get; init; } = Offload.Gateway.Service.UpdateNormPolicy.Refuse;

    /// <summary>A fixed bound on an update's L2 norm; null derives it from recent updates (<c>--max-update-norm auto|X</c>).</summary>
    public double? MaxUpdateNorm { get; init; }

    /// <summary>A fixed cap on the sample count an update is weighted by; null derives it from recent updates (<c>--max-samples auto|N</c>).</summary>
    public long? MaxSamples { get; init; }

    /// <summary>Seconds an upload may send nothing before the gateway ends it and drops its bytes.</summary>
    public double UploadIdleTimeoutSeconds { get; init; } = 30;

    /// <summary>Seconds to keep answering "done" after the last round.</summary>
    public double LingerSeconds { get; init; } = 5;

    /// <summary>
    /// Synchronous rounds (false), or buffered asynchronous aggregation (<c>--mode async</c>, FedBuff):
    /// tasks go out continuously and every <see cref="BufferSize"/> arrivals publish a version.
    /// </summary>
    public bool Asynchronous { get; init; }

    /// <summary>With <see cref="Asynchronous"/>: arrivals per version (K); 0 means <see cref="MinClients"/>.</summary>
    public int BufferSize { get; init; }

    /// <summary>With <see cref="Asynchronous"/>: tasks out at once; 0 gives one to every device that asks.</summary>
    public int Concurrency { get; init; }

    /// <summary>With <see cref="Asynchronous"/>: past versions whose models are kept for correction (the window holds this many plus the current).</summary>
    public int MaxStaleness { get; init; } = 16;

    /// <summary>With <see cref="Asynchronous"/>: a bound on the window's bytes in MiB; 0 for none.</summary>
    public double HistoryMegabytes { get; init; }

    /// <summary>With <see cref="Asynchronous"/>: the staleness corrector's name (<see cref="Options.CorrectorCatalog"/>).</summary>
    public string Corrector { get; init; } = "fedasync-poly";

    /// <summary>With <see cref="Asynchronous"/>: stale updates that may wait for the corrector before stale uploads are pushed back.</summary>
    public int CorrectionQueue { get; init; } = 4;

    /// <summary>With <see cref="Asynchronous"/> and a corrector that does more than weight: stale updates at least this old are corrected, younger ones weighted by the fall-back.</summary>
    public int CorrectFrom { get; init; } = 1;

    /// <summary>With <see cref="Asynchronous"/> and the inversion: samples a typical device trains on (the inversion's surrogate of local training follows it).</summary>
    public int InversionSamples { get; init; } = 600;

    /// <summary>Fan-in bound of each round's aggregation tree; 0 folds into one flat accumulator.</summary>
    public int HierarchyFanIn { get; init; }

    /// <summary>How devices download the model: full weights, or FedZip-encoded changes.</summary>
    public Offload.Aggregator.Rounds.DownstreamMode Downstream { get; init; }

    /// <summary>The downstream FedZip encoder's settings (top-z fraction, clusters).</summary>
    public Offload.Core.Codec.FedZipOptions DownstreamFedZip { get; init; } = Offload.Core.Codec.FedZipOptions.Default;

    /// <summary>
    /// Where updates are aggregated: false in this process; true by the aggregator functions of the
    /// Dapr deployment, reached through this app's sidecar (<c>--aggregator dapr</c>).
    /// </summary>
    public bool DaprAggregator { get; init; }

    /// <summary>With <see cref="DaprAggregator"/>: the port the sidecar delivers <c>ModelPublished</c> to (its app port).</summary>
    public int DaprAppPort { get; init; } = Offload.Functions.Names.DaprNames.GatewayAppPort;

    /// <summary>With <see cref="DaprAggregator"/>: seconds to wait at startup for the sidecar and the aggregator functions.</summary>
    public double SidecarWaitSeconds { get; init; } = 60;

    /// <summary>
    /// Where the in-process aggregator journals what it acknowledges (<c>--state</c>): a restart with the
    /// same directory resumes the federation; null keeps everything in memory.
    /// </summary>
    public string? StateDirectory { get; init; }

    /// <summary>Seconds a stop (SIGTERM, SIGINT) lets uploads in flight finish before it cuts them.</summary>
    public double DrainSeconds { get; init; } = 5;

    /// <summary>
    /// The node's shared-memory update store (<c>--node-store</c>, a file under <c>/dev/shm</c>): uploads
    /// stream into it and the aggregator folds them from it by lease; null keeps updates in this
    /// process's memory.
    /// </summary>
    public string? NodeStorePath { get; init; }

    /// <summary>Data area of a node store this process creates, in MiB.</summary>
    public double NodeStoreMegabytes { get; init; } = 1024;

    /// <summary>
    /// This node's name (<c>--node-name</c>; default <c>NODE_NAME</c>, which Kubernetes' downward API
    /// sets, else the host name): with a node store, the Dapr events of what this node stores travel on
    /// its topics, which the functions given the same name take.
    /// </summary>
    public string NodeName { get; init; } = DefaultNodeName();

    /// <summary>The other nodes' agents (<c>--node-peer NAME=URL</c>): where the functions pull an update or partial another node holds.</summary>
    public IReadOnlyDictionary<string, Uri> NodePeers { get; init; } = new Dictionary<string, Uri>();

    /// <summary>The node agent's port unless <c>--port</c> says otherwise (not the functions' 5100: both may share a node's host network).</summary>
    public const int NodeAgentPort = 5110;

    /// <summary><c>NODE_NAME</c> when set, else the host name.</summary>
    public static string DefaultNodeName() => Environment.GetEnvironmentVariable("NODE_NAME") is { Length: > 0 } node ? node : Environment.MachineName;

    /// <summary>Parses <c>--node-peer</c> values, <c>NAME=URL</c> each.</summary>
    /// <exception cref="InvalidOptionException">A value is not NAME=URL with a node name and an absolute http(s) address, or a name repeats.</exception>
    public static IReadOnlyDictionary<string, Uri> ParseNodePeers(IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var peers = new Dictionary<string, Uri>(StringComparer.Ordinal);
        foreach (string value in values)
        {
            int eq = value.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? "" : value[..eq];
            if (eq < 0 || Functions.Names.NodeTopics.NodeProblem(name, "NAME") is not null
                || !Uri.TryCreate(value[(eq + 1)..], UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new InvalidOptionException($"--node-peer must be NAME=URL, a node name and its agent's http(s) address, e.g. node-b=http://10.0.0.2:{NodeAgentPort} (got '{value}').");
            if (!peers.TryAdd(name, uri)) throw new InvalidOptionException($"--node-peer names node '{name}' twice.");
        }
        return peers;
    }

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="InvalidOptionException">The message names the option and its allowed range.</exception>
    public ServeOptions Validate()
    {
        Require(Port is null or (>= 0 and <= 65535), Port!, "--port must be in 0..65535");
        Require(System.Net.IPAddress.TryParse(Host, out _), Host, "--host must be an IP address");
        Require(MinClients >= 1, MinClients, "--min-clients must be at least 1");
        Require(ClientsPerRound == 0 || ClientsPerRound >= MinClients, ClientsPerRound, "--clients-per-round must be 0 or at least --min-clients");
        Require(double.IsFinite(RoundDeadlineSeconds) && RoundDeadlineSeconds > 0, RoundDeadlineSeconds, "--round-deadline must be a positive number of seconds");
        Require(Rounds >= 1, Rounds, "--rounds must be at least 1");
        Require(LocalEpochs >= 1, LocalEpochs, "--local-epochs must be at least 1");
        Require(BatchSize >= 1, BatchSize, "--batch must be at least 1");
        Require(double.IsFinite(LearningRate) && LearningRate > 0, LearningRate, "--lr must be a positive number");
        Require(Options.HiddenWidthOption.IsValid(Hidden), Hidden, Options.HiddenWidthOption.Requirement);
        Require(double.IsFinite(MaxUpdateMegabytes) && MaxUpdateMegabytes > 0, MaxUpdateMegabytes, "--max-update-mb must be positive");
        Require(Enum.IsDefined(UpdateNorm), UpdateNorm, "--update-norm must be refuse or clip");
        Require(MaxUpdateNorm is null || (double.IsFinite(MaxUpdateNorm.Value) && MaxUpdateNorm > 0), MaxUpdateNorm!, "--max-update-norm must be auto or a positive number");
        Require(MaxSamples is null or >= 1, MaxSamples!, "--max-samples must be auto or a whole number of at least 1");
        Require(double.IsFinite(UploadIdleTimeoutSeconds) && UploadIdleTimeoutSeconds is > 0 and <= 3600, UploadIdleTimeoutSeconds, "--upload-idle-timeout must be more than 0 and at most 3600 seconds");
        Require(HierarchyFanIn == 0 || HierarchyFanIn >= 2, HierarchyFanIn, "--hierarchy must be 0 (flat) or a fan-in bound of at least 2");
        Require(double.IsFinite(LingerSeconds) && LingerSeconds >= 0, LingerSeconds, "--linger must be a non-negative number of seconds");
        Require(Enum.IsDefined(Downstream), Downstream, "--downstream must be full or fedzip");
        Require(DownstreamFedZip is not null, "null", "--downstream needs FedZip settings");
        Require(DaprAppPort is >= 1 and <= 65535, DaprAppPort, "--app-port must be in 1..65535");
        Require(double.IsFinite(SidecarWaitSeconds) && SidecarWaitSeconds is >= 0 and <= 3600, SidecarWaitSeconds, "--sidecar-wait must be 0..3600 seconds");
        Require(!DaprAggregator || DaprAppPort != Port, DaprAppPort, "--app-port must differ from --port");
        Require(StateDirectory is null || StateDirectory.Trim().Length > 0, "''", "--state must name a directory");
        Require(StateDirectory is null || !DaprAggregator, StateDirectory!, "--state keeps the in-process aggregator's federation; with --aggregator dapr the Dapr state store keeps it, so leave --state out");
        Require(double.IsFinite(DrainSeconds) && DrainSeconds is >= 0 and <= 8, DrainSeconds, "--drain must be 0..8 seconds (a stop ends within 10 s)");
        Require(NodeStorePath is null || NodeStorePath.Trim().Length > 0, "''", "--node-store must name a file");
        Require(double.IsFinite(NodeStoreMegabytes) && NodeStoreMegabytes is >= 1 and <= 1 << 20, NodeStoreMegabytes, "--node-store-mb must be 1..1048576 MiB");
        Require(Functions.Names.NodeTopics.NodeProblem(NodeName, "--node-name") is null, NodeName,
            $"--node-name (default NODE_NAME, else the host name) must be 1 to {Functions.Names.NodeTopics.MaxNodeLength} ASCII letters, digits, '-', '_' or '.'");
        Require(!NodePeers.ContainsKey(NodeName), NodeName, "--node-peer must name other nodes, not this one (--node-name)");
        Require(NodePeers.Count == 0 || NodeStorePath is not null, NodePeers.Count, "--node-peer needs --node-store: peers are pulled into this node's store");
        Require(BufferSize >= 0, BufferSize, "--buffer must be 0 (= --min-clients) or positive");
        Require(Concurrency >= 0, Concurrency, "--concurrency must be 0 (any device that asks) or positive");
        Require(MaxStaleness is >= 0 and <= 10_000, MaxStaleness, "--max-staleness must be 0..10000 versions");
        Require(double.IsFinite(HistoryMegabytes) && HistoryMegabytes >= 0, HistoryMegabytes, "--history-mb must be 0 (no bound) or a positive number of MiB");
        Require(Options.CorrectorCatalog.Names.Contains(Corrector) || Corrector == "unweighted", Corrector, $"--corrector must be one of {string.Join(", ", Options.CorrectorCatalog.Names)}");
        Require(CorrectionQueue >= 1, CorrectionQueue, "--correction-queue must be at least 1");
        Require(CorrectFrom >= 1, CorrectFrom, "--correct-from must be at least 1");
        Require(InversionSamples >= 1, InversionSamples, "--inversion-samples must be at least 1");
        if (Asynchronous)
        {
            // What asynchronous aggregation does not do yet, refused rather than ignored.
            Require(!(DaprAggregator && NodeStorePath is not null), NodeStorePath!, "--mode async --aggregator dapr keeps updates in the state store, where the corrector app reads them (leave out --node-store)");
            Require(StateDirectory is null, StateDirectory!, "--mode async keeps no journal yet; leave out --state");
            Require(Downstream == Offload.Aggregator.Rounds.DownstreamMode.Full, Downstream, "--mode async sends full weights: a correction needs the exact model each device trained from (leave out --downstream)");
            Require(HierarchyFanIn == 0, HierarchyFanIn, "--mode async folds into one buffer (leave out --hierarchy)");
            Require(Strategy.GetType() == typeof(Offload.Aggregator.Strategies.FedAvg), Strategy.Name,
                "--mode async aggregates with FedBuff (fedavg's weights and step, every --buffer arrivals); --strategy takes only fedavg[:eta=X] there");
        }
        else
        {
            Require(BufferSize == 0 && Concurrency == 0, BufferSize, "--buffer and --concurrency are for --mode async");
        }
        return this;
    }

    private static void Require(bool condition, object value, string message)
    {
        if (!condition) throw new InvalidOptionException($"{message} (got {value}).");
    }
}
