using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Asynchronous;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Cli.Options;
using Offload.Cli.Serving;
using Offload.Client.Training;
using Offload.Core.Codec;
using Offload.Core.Federation;
using Offload.Core.Model;
using Offload.Functions.Hosting;
using Offload.Gateway.Authentication;
using Offload.Gateway.Hosting;
using Offload.Gateway.Nodes;
using Offload.Gateway.Service;

namespace Offload.Cli.Commands;

/// <summary><c>offload serve</c>: the gRPC gateway plus a synchronous aggregator (in process, or the Dapr functions) running <c>--strategy</c>.</summary>
public static class ServeCommand
{
    /// <summary>Builds the command with its options.</summary>
    public static Command Create() => Build(out _);

    /// <summary>
    /// What <c>offload serve</c> with <paramref name="arguments"/> (after the word <c>serve</c>) would run,
    /// checked exactly as the command checks it, without running it or reading any file it names:
    /// how <c>offload deploy check</c> validates a container's arguments.
    /// </summary>
    /// <param name="arguments">The arguments after <c>serve</c>.</param>
    /// <param name="endpointsConfigured">Whether <c>Kestrel__Endpoints__*</c> variables configure the endpoints (as the container's environment would).</param>
    /// <exception cref="InvalidOptionException">The arguments do not parse, or name a value or combination the command refuses.</exception>
    public static ServePlan Plan(IReadOnlyList<string> arguments, bool endpointsConfigured)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var root = new RootCommand { Build(out var plan) };
        var parsed = root.Parse(["serve", .. arguments]);
        if (parsed.Errors.Count > 0) throw new InvalidOptionException(string.Join("; ", parsed.Errors.Select(e => e.Message)));
        return plan(parsed, endpointsConfigured);
    }

    private static Command Build(out Func<ParseResult, bool, ServePlan> plan)
    {
        var d = new ServeOptions();
        var port = new Option<int?>("--port") { Description = "Port for cleartext HTTP/2 (0: any free port; default 5000, or none when --config or Kestrel__Endpoints__* variables configure endpoints, e.g. with TLS).", DefaultValueFactory = _ => d.Port };
        var host = new Option<string>("--host") { Description = "Address to bind with --port.", DefaultValueFactory = _ => d.Host };
        var minClients = new Option<int>("--min-clients") { Description = "Updates that close a round.", DefaultValueFactory = _ => d.MinClients };
        var perRound = new Option<int>("--clients-per-round") { Description = "Tasks handed out per round (0: --min-clients).", DefaultValueFactory = _ => d.ClientsPerRound };
        var deadline = new Option<double>("--round-deadline") { Description = "Seconds after which a round with at least one update closes.", DefaultValueFactory = _ => d.RoundDeadlineSeconds };
        var rounds = new Option<int>("--rounds") { Description = "Rounds to run.", DefaultValueFactory = _ => d.Rounds };
        var epochs = new Option<int>("--local-epochs") { Description = "Local epochs per task (E).", DefaultValueFactory = _ => d.LocalEpochs };
        var batch = new Option<int>("--batch") { Description = "Local batch size (B).", DefaultValueFactory = _ => d.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Local SGD learning rate.", DefaultValueFactory = _ => d.LearningRate };
        var seed = new Option<int>("--seed") { Description = "Seed of the initial model; clients pass the same --seed.", DefaultValueFactory = _ => d.Seed };
        var hidden = HiddenWidthOption.Create("Clients pass the same --hidden.");
        var codec = new Option<string>("--codec") { Description = "Codec devices encode updates with: identity (exact) | fedzip (compressed).", DefaultValueFactory = _ => "identity" };
        var maxUpdate = new Option<double>("--max-update-mb") { Description = "Largest update accepted, in MiB.", DefaultValueFactory = _ => d.MaxUpdateMegabytes };
        var updateNorm = new Option<string>("--update-norm") { Description = "An update whose L2 norm is above --max-update-norm is refused or clipped to it: refuse | clip.", DefaultValueFactory = _ => "refuse" };
        var maxNorm = new Option<string>("--max-update-norm") { Description = "The bound on an update's L2 norm: auto (10 x the median of recent accepted updates; before five are known, 10 x the model's norm) or a number.", DefaultValueFactory = _ => "auto" };
        var maxSamples = new Option<string>("--max-samples") { Description = "The most samples an update is weighted by: auto (10 x the median declared by recent accepted updates, at least 10000) or a number.", DefaultValueFactory = _ => "auto" };
        var idleTimeout = new Option<double>("--upload-idle-timeout") { Description = "Seconds an upload may send nothing before it is ended and its bytes dropped.", DefaultValueFactory = _ => d.UploadIdleTimeoutSeconds };
        var linger = new Option<double>("--linger") { Description = "Seconds to keep telling clients 'done' after the last round.", DefaultValueFactory = _ => d.LingerSeconds };
        var tokensFile = new Option<string[]>("--tokens") { Description = "File of 'client-id token' lines.", AllowMultipleArgumentsPerToken = false, DefaultValueFactory = _ => [] };
        var token = new Option<string[]>("--token") { Description = "A client token, 'T' or 'ID=T'; repeat for more clients.", DefaultValueFactory = _ => [] };
        var code = new Option<string[]>("--enrollment-code") { Description = "A one-time enrollment code, 'CODE' or 'ID=CODE'; repeatable.", DefaultValueFactory = _ => [] };
        var config = new Option<string[]>("--config") { Description = "JSON configuration file(s): Kestrel endpoints and certificates, logging.", DefaultValueFactory = _ => [] };
        var data = new Option<string?>("--data") { Description = "Fashion-MNIST folder for evaluating each round's model ('bundled' for the embedded subset)." };
        var output = new Option<string>("--out") { Description = "Output folder for rounds.csv and summary.json.", DefaultValueFactory = _ => "runs/serve" };
        var verbose = new Option<bool>("--verbose") { Description = "Log the gateway's and aggregator's information messages to stderr." };
        var dapr = new Option<bool>("--dapr") { Description = "Host the event-driven aggregator functions as a Dapr app on --port (the sidecar delivers events and actor calls there) instead of the gateway with an in-process aggregator." };
        var downstream = new Option<string>("--downstream") { Description = "Model sent to devices: full (float32 weights) | fedzip[:TOPZ[:CLUSTERS]] (the FedZip-encoded change since the device's model; top-z 0.1 and 8 clusters unless given, e.g. fedzip:0.01:8).", DefaultValueFactory = _ => "full" };
        var hierarchy = new Option<int>("--hierarchy") { Description = "Aggregate each round through a leaf/middle/top tree with this fan-in bound (0: one flat accumulator; with --aggregator dapr, the functions' default).", DefaultValueFactory = _ => 0 };
        var aggregator = new Option<string>("--aggregator") { Description = "Where updates are aggregated: in-process, or dapr (the aggregator functions, through this app's Dapr sidecar; see docs/dapr.md).", DefaultValueFactory = _ => "in-process" };
        var sidecarWait = new Option<double>("--sidecar-wait") { Description = "With --aggregator dapr: seconds to wait at startup for the sidecar and the aggregator functions (apps start in any order).", DefaultValueFactory = _ => d.SidecarWaitSeconds };
        var strategy = StrategyOption.Create();
        var clientEvaluation = new Option<string>("--client-evaluation") { Description = "Federated evaluation: devices score each round's model on their own data before training, and the strategy combines the scores by examples: on | off.", DefaultValueFactory = _ => "on" };
        var state = new Option<string?>("--state") { Description = "Directory where the in-process aggregator journals every task, acknowledged update and published model (SQLite, synchronous commits) before answering; restarting with the same directory resumes the federation where it stopped." };
        var nodeStore = new Option<string?>("--node-store") { Description = "The node's shared-memory update store (a file, e.g. /dev/shm/offload-store): uploads stream into it and are folded from it without copies; processes on this node may attach to the same file. Default: this process's memory." };
        var nodeStoreMb = new Option<double>("--node-store-mb") { Description = "Data area of the node store when this process creates it, in MiB (a full store pushes back: devices are told to retry).", DefaultValueFactory = _ => d.NodeStoreMegabytes };
        var nodeAgent = new Option<bool>("--node-agent") { Description = "Run this node's agent instead of a federation: own the --node-store (create it, reclaim what dead processes held) and serve PullObject on --port to aggregators on other nodes." };
        var nodeName = new Option<string>("--node-name") { Description = "This node's name (default: NODE_NAME, which Kubernetes' downward API sets, else the host name). With --node-store and the Dapr aggregator, the events of what this node stores go on its topics, which the functions given the same name take, so updates fold where they landed.", DefaultValueFactory = _ => ServeOptions.DefaultNodeName() };
        var nodePeer = new Option<string[]>("--node-peer") { Description = "With --dapr and --node-store: another node's agent, NAME=URL (e.g. node-b=http://10.0.0.2:5110); an update or partial that node holds is pulled from it (PullObject). Repeatable.", DefaultValueFactory = _ => [] };
        var drain = new Option<double>("--drain") { Description = "Seconds a stop (SIGTERM, SIGINT) lets uploads in flight finish before it cuts them (0..8; the process ends within 10 s).", DefaultValueFactory = _ => d.DrainSeconds };
        var mode = new Option<string>("--mode") { Description = "sync: rounds that close at --min-clients updates or the deadline | async: FedBuff, tasks handed out continuously from the newest model, a new version every --buffer arrivals, stale updates corrected by --corrector.", DefaultValueFactory = _ => "sync" };
        var buffer = new Option<int>("--buffer") { Description = "With --mode async: arrivals per model version (K; 0: --min-clients).", DefaultValueFactory = _ => 0 };
        var concurrency = new Option<int>("--concurrency") { Description = "With --mode async: tasks out at once (0: one for every device that asks).", DefaultValueFactory = _ => 0 };
        var maxStaleness = new Option<int>("--max-staleness") { Description = "With --mode async: past versions kept to correct stale updates from; an update older than that is weighted by the fall-back (FedAsync polynomial), never folded as fresh.", DefaultValueFactory = _ => d.MaxStaleness };
        var historyMb = new Option<double>("--history-mb") { Description = "With --mode async: a bound on the kept models' bytes, in MiB (0: only --max-staleness bounds them).", DefaultValueFactory = _ => 0 };
        var corrector = new Option<string>("--corrector") { Description = $"With --mode async: what is done with a stale update: {string.Join(" | ", CorrectorCatalog.Names)} (inversion: recompute it on the current model from data recovered by gradient inversion, gated, falling back to fedasync-poly).", DefaultValueFactory = _ => d.Corrector };
        var correctionQueue = new Option<int>("--correction-queue") { Description = "With --mode async: stale updates that may wait for the corrector; past that, stale uploads are pushed back (devices retry).", DefaultValueFactory = _ => d.CorrectionQueue };
        var correctFrom = new Option<int>("--correct-from") { Description = "With --mode async and dc-asgd or inversion: correct stale updates at least this many versions old; younger ones are weighted by fedasync-poly (with more devices training than --buffer, most updates are a version or two old).", DefaultValueFactory = _ => d.CorrectFrom };
        var inversionSamples = new Option<int>("--inversion-samples") { Description = "With --corrector inversion: samples a typical device trains on (the inversion's model of local training follows it).", DefaultValueFactory = _ => d.InversionSamples };
        var appPort = new Option<int>("--app-port") { Description = "With --aggregator dapr: the HTTP port the sidecar delivers ModelPublished to (its app-port).", DefaultValueFactory = _ => d.DaprAppPort };

        var command = new Command("serve", "Run the gRPC gateway and a synchronous aggregator (FedAvg unless --strategy) for devices running 'offload client'.")
        {
            strategy, clientEvaluation, port, host, minClients, perRound, deadline, rounds, epochs, batch, lr, seed, hidden, codec, maxUpdate,
            updateNorm, maxNorm, maxSamples, idleTimeout, linger, tokensFile, token, code, config, data, output, verbose, dapr, hierarchy,
            aggregator, appPort, sidecarWait, downstream, state, drain, nodeStore, nodeStoreMb, nodeAgent, nodeName, nodePeer,
            mode, buffer, concurrency, maxStaleness, historyMb, corrector, correctionQueue, correctFrom, inversionSamples,
        };
        ServePlan Planned(ParseResult parsed, bool endpointsFromEnvironment)
        {
            if (parsed.GetValue(nodeAgent))
            {
                int agentPort = parsed.GetResult(port) is { Implicit: false } ? parsed.GetValue(port) ?? ServeOptions.NodeAgentPort : ServeOptions.NodeAgentPort;
                var agentOptions = new ServeOptions
                {
                    Port = agentPort,
                    Host = parsed.GetValue(host)!,
                    NodeStorePath = parsed.GetValue(nodeStore) ?? throw new InvalidOptionException("--node-agent owns a node store: name its file with --node-store (e.g. /dev/shm/offload-store)."),
                    NodeStoreMegabytes = parsed.GetValue(nodeStoreMb),
                }.Validate();
                return new ServePlan(ServeRole.NodeAgent, agentOptions);
            }
            if (parsed.GetValue(dapr))
            {
                int daprPort = parsed.GetResult(port) is { Implicit: false } ? parsed.GetValue(port) ?? Functions.Names.DaprNames.FunctionsPort : Functions.Names.DaprNames.FunctionsPort;
                var daprOptions = new ServeOptions
                {
                    Port = daprPort,
                    Host = parsed.GetValue(host)!,
                    NodeStorePath = parsed.GetValue(nodeStore),
                    NodeStoreMegabytes = parsed.GetValue(nodeStoreMb),
                    NodeName = parsed.GetValue(nodeName)!,
                    NodePeers = ServeOptions.ParseNodePeers(parsed.GetValue(nodePeer)!),
                }.Validate();
                // --dapr with --corrector: the corrector app of asynchronous serving, not the aggregator functions.
                if (parsed.GetResult(corrector) is { Implicit: false })
                {
                    var correctorOptions = new ServeOptions
                    {
                        Port = parsed.GetResult(port) is { Implicit: false } ? parsed.GetValue(port) : Functions.Names.DaprNames.CorrectorPort,
                        Host = parsed.GetValue(host)!,
                        Corrector = parsed.GetValue(corrector)!,
                        LocalEpochs = parsed.GetValue(epochs),
                        BatchSize = parsed.GetValue(batch),
                        LearningRate = parsed.GetValue(lr),
                        Seed = parsed.GetValue(seed),
                        Hidden = parsed.GetValue(hidden),
                        InversionSamples = parsed.GetValue(inversionSamples),
                        CorrectionQueue = parsed.GetValue(correctionQueue),
                    }.Validate();
                    return new ServePlan(ServeRole.Corrector, correctorOptions) { Data = parsed.GetValue(data), Verbose = parsed.GetValue(verbose) };
                }
                return new ServePlan(ServeRole.Functions, daprOptions) { Verbose = parsed.GetValue(verbose) };
            }
            var (downstreamMode, downstreamFedZip) = DownstreamArgument.Parse(parsed.GetValue(downstream)!);
            var options = new ServeOptions
            {
                Strategy = StrategyOption.Parse(parsed.GetValue(strategy)!),
                ClientEvaluation = parsed.GetValue(clientEvaluation) switch
                {
                    "on" => true,
                    "off" => false,
                    var other => throw new InvalidOptionException($"--client-evaluation must be on or off (got '{other}')."),
                },
                Port = parsed.GetResult(port) is { Implicit: false } ? parsed.GetValue(port) : parsed.GetValue(config)!.Length > 0 || endpointsFromEnvironment ? null : d.Port,
                Host = parsed.GetValue(host)!,
                MinClients = parsed.GetValue(minClients),
                ClientsPerRound = parsed.GetValue(perRound),
                RoundDeadlineSeconds = parsed.GetValue(deadline),
                Rounds = parsed.GetValue(rounds),
                LocalEpochs = parsed.GetValue(epochs),
                BatchSize = parsed.GetValue(batch),
                LearningRate = parsed.GetValue(lr),
                Seed = parsed.GetValue(seed),
                Hidden = parsed.GetValue(hidden),
                MaxUpdateMegabytes = parsed.GetValue(maxUpdate),
                UpdateNorm = parsed.GetValue(updateNorm)!.ToLowerInvariant() switch
                {
                    "refuse" => UpdateNormPolicy.Refuse,
                    "clip" => UpdateNormPolicy.Clip,
                    var other => throw new InvalidOptionException($"--update-norm must be refuse or clip (got '{other}')."),
                },
                MaxUpdateNorm = ParseAuto("--max-update-norm", parsed.GetValue(maxNorm)!),
                MaxSamples = ParseSamples(parsed.GetValue(maxSamples)!),
                UploadIdleTimeoutSeconds = parsed.GetValue(idleTimeout),
                Codec = ParseCodec(parsed.GetValue(codec)!),
                LingerSeconds = parsed.GetValue(linger),
                HierarchyFanIn = parsed.GetValue(hierarchy),
                Downstream = downstreamMode,
                DownstreamFedZip = downstreamFedZip,
                DaprAggregator = ParseAggregator(parsed.GetValue(aggregator)!),
                DaprAppPort = parsed.GetValue(appPort),
                SidecarWaitSeconds = parsed.GetValue(sidecarWait),
                StateDirectory = parsed.GetValue(state),
                DrainSeconds = parsed.GetValue(drain),
                NodeStorePath = parsed.GetValue(nodeStore),
                NodeStoreMegabytes = parsed.GetValue(nodeStoreMb),
                NodeName = parsed.GetValue(nodeName)!,
                Asynchronous = parsed.GetValue(mode) switch
                {
                    "sync" => false,
                    "async" => true,
                    var other => throw new InvalidOptionException($"--mode must be sync or async (got '{other}')."),
                },
                BufferSize = parsed.GetValue(buffer),
                Concurrency = parsed.GetValue(concurrency),
                MaxStaleness = parsed.GetValue(maxStaleness),
                HistoryMegabytes = parsed.GetValue(historyMb),
                Corrector = parsed.GetValue(corrector)!,
                CorrectionQueue = parsed.GetValue(correctionQueue),
                CorrectFrom = parsed.GetValue(correctFrom),
                InversionSamples = parsed.GetValue(inversionSamples),
                NodePeers = parsed.GetValue(nodePeer) is { Length: > 0 }
                    ? throw new InvalidOptionException("--node-peer is for the aggregator functions (serve --dapr): the gateway reads only its own node's store.")
                    : new Dictionary<string, Uri>(),
            }.Validate();
            return new ServePlan(ServeRole.Gateway, options)
            {
                TokenFiles = parsed.GetValue(tokensFile)!,
                Tokens = parsed.GetValue(token)!,
                EnrollmentCodes = parsed.GetValue(code)!,
                ConfigFiles = parsed.GetValue(config)!,
                Data = parsed.GetValue(data),
                Output = parsed.GetValue(output)!,
                Verbose = parsed.GetValue(verbose),
            };
        }

        plan = Planned;
        command.SetAction((parsed, cancellationToken) => RunAsync(Planned(parsed, EndpointsFromEnvironment()), cancellationToken));
        return command;
    }

    /// <summary>Runs what <see cref="Plan"/> decided, reading the files it names.</summary>
    private static Task<int> RunAsync(ServePlan plan, CancellationToken cancellationToken)
    {
        switch (plan.Role)
        {
            case ServeRole.NodeAgent: return RunNodeAgentAsync(plan.Options, Console.Out, cancellationToken);
            case ServeRole.Corrector: return RunCorrectorAsync(plan.Options, plan.Data, plan.Verbose, Console.Out, cancellationToken);
            case ServeRole.Functions: return RunDaprAsync(plan.Options, plan.Verbose, Console.Out, cancellationToken);
        }
        var tokens = TokenArguments.Create(plan.TokenFiles, plan.Tokens, plan.EnrollmentCodes);
        foreach (string file in plan.ConfigFiles)
            if (!File.Exists(file)) throw new InvalidOptionException($"--config: the file '{file}' does not exist.");
        return RunAsync(plan.Options, tokens, plan.ConfigFiles, plan.Data, plan.Output, plan.Verbose, Console.Out, cancellationToken);
    }

    /// <summary>Whether Kestrel__Endpoints__* variables configure Kestrel's endpoints, so no default port is bound.</summary>
    private static bool EndpointsFromEnvironment() =>
        Environment.GetEnvironmentVariables().Keys.Cast<object>()
            .Any(k => k.ToString()!.StartsWith("Kestrel__Endpoints__", StringComparison.OrdinalIgnoreCase));

    /// <summary>Maps the <c>--codec</c> word to a codec.</summary>
    /// <exception cref="InvalidOptionException">The word is not identity or fedzip.</exception>
    public static PayloadCodec ParseCodec(string value) => value.ToLowerInvariant() switch
    {
        "identity" => PayloadCodec.Identity,
        "fedzip" => PayloadCodec.FedZip,
        _ => throw new InvalidOptionException($"--codec must be identity or fedzip (got '{value}')."),
    };

    /// <summary>Reads an <c>auto|number</c> option: null for auto.</summary>
    /// <exception cref="InvalidOptionException">The value is neither auto nor a number; the message names <paramref name="option"/>.</exception>
    public static double? ParseAuto(string option, string value) =>
        value.Equals("auto", StringComparison.OrdinalIgnoreCase) ? null
            : double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) ? number
            : throw new InvalidOptionException($"{option} must be auto or a number (got '{value}').");

    /// <summary>Reads <c>--max-samples auto|N</c>: null for auto.</summary>
    /// <exception cref="InvalidOptionException">The value is neither auto nor a whole number.</exception>
    public static long? ParseSamples(string value) => ParseAuto("--max-samples", value) switch
    {
        null => null,
        double n when n == Math.Floor(n) && Math.Abs(n) < 9e18 => (long)n,
        _ => throw new InvalidOptionException($"--max-samples must be auto or a whole number (got '{value}')."),
    };

    /// <summary>Maps the <c>--aggregator</c> word: true for the Dapr functions.</summary>
    /// <exception cref="InvalidOptionException">The word is not in-process or dapr.</exception>
    public static bool ParseAggregator(string value) => value.ToLowerInvariant() switch
    {
        "in-process" => false,
        "dapr" => true,
        _ => throw new InvalidOptionException($"--aggregator must be in-process or dapr (got '{value}')."),
    };

    /// <summary>How often the node agent reclaims what dead attachers held, besides when the store is full.</summary>
    public static readonly TimeSpan NodeAgentReclaimInterval = TimeSpan.FromSeconds(5);

    /// <summary><c>serve --node-agent</c>: owns the node store and serves PullObject until cancelled.</summary>
    private static async Task<int> RunNodeAgentAsync(ServeOptions o, TextWriter output, CancellationToken cancellationToken)
    {
        using var store = HostedRounds.OpenNodeStore(o.NodeStorePath!, (long)(o.NodeStoreMegabytes * 1024 * 1024));
        NodeAgentServer agent;
        try
        {
            agent = await NodeAgentServer.StartAsync(store, IPAddress.Parse(o.Host), o.Port ?? ServeOptions.NodeAgentPort, cancellationToken: cancellationToken);
        }
        catch (IOException e)
        {
            throw new InvalidOptionException($"--port {o.Port}: {e.Message}");
        }
        await using (agent)
        {
            var stats = store.ReadStats();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Node agent for {store.Path} ({stats.CapacityBytes >> 20} MiB, {stats.Committed} objects held) serving PullObject on {agent.Address}. Ctrl+C stops."));
            output.Flush();
            using var timer = new PeriodicTimer(NodeAgentReclaimInterval);
            try
            {
                while (await timer.WaitForNextTickAsync(cancellationToken))
                {
                    int reclaimed = store.Reclaim();
                    if (reclaimed > 0) output.WriteLine($"Reclaimed what {reclaimed} dead process(es) held in the node store.");
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
        // The store file stays: committed objects in it may be acknowledged updates another process still has to fold.
        output.WriteLine("Node agent stopped; the node store is kept.");
        output.Flush();
        return 0;
    }

    /// <summary><c>serve --dapr</c>: the aggregator functions as a Dapr app until cancelled.</summary>
    private static async Task<int> RunDaprAsync(ServeOptions o, bool verbose, TextWriter output, CancellationToken cancellationToken)
    {
        // With --node-store, updates and partials stay in this node's shared memory; models stay in the state store.
        using var node = o.NodeStorePath is null ? null : HostedRounds.OpenNodeStore(o.NodeStorePath, (long)(o.NodeStoreMegabytes * 1024 * 1024));
        using var peers = new NodeAgentPeers(o.NodePeers);
        // With a node store: this node's topics too, and what another node holds is pulled from its agent.
        await using var app = await Functions.Hosting.AggregatorFunctionsHost.StartAsync(IPAddress.Parse(o.Host), o.Port ?? Functions.Names.DaprNames.FunctionsPort,
            logging => logging.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning)
                .AddFilter("Microsoft", LogLevel.Warning),
            services: node is null ? null : s => s.AddSingleton<IUpdateStore>(sp => new Functions.Storage.NodeLocalUpdateStore(node,
                new Functions.Storage.DaprUpdateStore(sp.GetRequiredService<Dapr.Client.DaprClient>()), o.NodeName, peers)),
            cancellationToken: cancellationToken);
        var topics = Functions.Names.DaprNames.WakingTopicsOf(Functions.Names.DaprNames.FunctionsAppId);
        // A node's own topics carry what its store holds; a round's opening names no node.
        if (node is not null) topics = [.. topics, .. topics.Where(t => t != Functions.Names.DaprNames.RoundOpenedTopic).Select(t => Functions.Names.NodeTopics.For(t, o.NodeName))];
        // The functions host no actor (the gateway does) and read no published model; --verbose logs each emit and model stored.
        output.WriteLine($"Aggregator functions (Dapr app '{Functions.Names.DaprNames.FunctionsAppId}'{(node is null ? "" : $", node '{o.NodeName}' with {o.NodePeers.Count} peer agents")}) listening on {string.Join(", ", app.Urls)}: topics {string.Join(", ", topics)} on '{Functions.Names.DaprNames.PubSub}'; rounds on the gateway's actor {Functions.Names.DaprNames.RoundActorType}. Ctrl+C stops.");
        return await ServeUntilStoppedAsync(app, output, cancellationToken);
    }

    /// <summary>Serves until SIGTERM or SIGINT, then drains: new deliveries are answered RETRY while those in flight finish.</summary>
    private static async Task<int> ServeUntilStoppedAsync(Microsoft.AspNetCore.Builder.WebApplication app, TextWriter output, CancellationToken cancellationToken)
    {
        output.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
        output.WriteLine(await Functions.Hosting.AggregatorFunctionsHost.DrainAsync(app, Functions.Hosting.AggregatorFunctionsHost.DrainTimeout));
        output.Flush();
        return 0;
    }

    /// <summary>
    /// <c>serve --dapr --corrector NAME</c>: the corrector app of asynchronous serving on Dapr until
    /// cancelled. It builds the same model as the gateway (same --hidden, --seed and data shape), so
    /// stale updates decode against the same layout, and it is the only app that runs TorchSharp for correction.
    /// </summary>
    private static async Task<int> RunCorrectorAsync(ServeOptions o, string? dataDirectory, bool verbose, TextWriter output, CancellationToken cancellationToken)
    {
        var settings = new CorrectorSettings { Seed = o.Seed };
        if (CorrectorCatalog.WeightingOf(o.Corrector, settings) is not null)
            throw new InvalidOptionException($"--corrector {o.Corrector} only weights, which the aggregator functions do themselves; the corrector app runs dc-asgd, inversion or inversion-unrolled.");
        var dataset = DataOption.LoadData(dataDirectory);
        TensorLayout layout;
        using (var model = TorchTrainer.CreateDefault(o.Seed, dataset.Train.Rows, dataset.Train.Columns, dataset.Train.ClassCount, o.Hidden)) layout = model.Layout;
        var plan = new TrainingOptions(o.LocalEpochs, o.BatchSize, o.LearningRate);
        var corrector = CorrectorCatalog.Create(o.Corrector, settings, layout, (dataset.Train.Rows, dataset.Train.Columns, dataset.Train.ClassCount), plan, o.InversionSamples);
        try
        {
            await using var app = await Functions.Hosting.AggregatorFunctionsHost.StartCorrectorAsync(IPAddress.Parse(o.Host), o.Port ?? Functions.Names.DaprNames.CorrectorPort,
                services => services.AddOffloadCorrector(corrector, CorrectorCatalog.Fallback(settings), layout, o.CorrectionQueue),
                logging => logging.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning)
                    .AddFilter("Microsoft", LogLevel.Warning),
                cancellationToken);
            output.WriteLine($"Corrector (Dapr app '{Functions.Names.DaprNames.CorrectorAppId}', {corrector.Name}, model of {layout.TotalLength:N0} parameters) listening on {string.Join(", ", app.Urls)}: topic {Functions.Names.DaprNames.StaleUpdateTopic} on '{Functions.Names.DaprNames.PubSub}'. Ctrl+C stops.");
            return await ServeUntilStoppedAsync(app, output, cancellationToken);
        }
        finally
        {
            (corrector as IDisposable)?.Dispose();
        }
    }

    private static async Task<int> RunAsync(ServeOptions o, ClientTokens tokens, string[] configFiles,
        string? dataDirectory, string outputDirectory, bool verbose, TextWriter output, CancellationToken cancellationToken)
    {
        var dataset = DataOption.LoadData(dataDirectory);
        output.WriteLine($"Evaluation data: {dataset.Source}");
        TorchSharp.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
        using var evaluator = TorchTrainer.CreateDefault(o.Seed, dataset.Train.Rows, dataset.Train.Columns, dataset.Train.ClassCount, o.Hidden);
        var initial = new float[evaluator.Layout.TotalLength];
        evaluator.ExportWeights(initial);

        Action<ILoggingBuilder> logging = b => b.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning)
            .AddFilter("Microsoft", LogLevel.Warning).AddFilter("Grpc", LogLevel.Warning);
        using var loggers = LoggerFactory.Create(logging);
        var roundOptions = new RoundOptions
        {
            MinClients = o.MinClients,
            ClientsPerRound = o.ClientsPerRound,
            RoundDeadline = TimeSpan.FromSeconds(o.RoundDeadlineSeconds),
            Rounds = o.Rounds,
            Plan = new TrainingOptions(o.LocalEpochs, o.BatchSize, o.LearningRate) { Evaluate = o.ClientEvaluation },
            Strategy = o.Strategy,
            HierarchyFanIn = o.HierarchyFanIn,
            Downstream = o.Downstream,
            DownstreamFedZip = o.DownstreamFedZip,
        };
        var gatewayOptions = new GatewayOptions
        {
            MaxUpdateBytes = (long)(o.MaxUpdateMegabytes * 1024 * 1024),
            Codec = o.Codec,
            NormPolicy = o.UpdateNorm,
            MaxUpdateNorm = o.MaxUpdateNorm,
            MaxSampleCount = o.MaxSamples,
            UploadIdleTimeout = TimeSpan.FromSeconds(o.UploadIdleTimeoutSeconds),
            Node = o.NodeName,
        };
        var listen = new GatewayListenOptions
        {
            Address = IPAddress.Parse(o.Host),
            Port = o.Port,
            JsonFiles = configFiles,
            SidecarAppPort = o.DaprAggregator ? o.DaprAppPort : null,
        };

        var served = new List<ServedRound>();
        var clock = Stopwatch.StartNew(); // From before the gateway starts: each model's time of publication, for accuracy against wall time.
        var evaluated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask OnRoundClosed(IRoundCoordinator coordinator, RoundClosed closed)
        {
            // Asynchronous versions come fast: score the version that closed, which it still serves, not whatever is newest by now.
            var model = coordinator.ServedModel(closed.Version) ?? coordinator.Model;
            var summary = coordinator.Rounds.First(r => r.Round == closed.Round);
            var score = evaluator.Evaluate(model.Weights.Span, dataset.Test, 0, dataset.Test.Count);
            lock (served) served.Add(new ServedRound(summary, score.Accuracy, score.MeanLoss, clock.Elapsed.TotalSeconds));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                // The Dapr functions report updates only; samples and bytes are known where folding happens.
                $"{(o.Asynchronous ? "version" : "round")} {closed.Round}/{o.Rounds}: {summary.Updates} updates ({(o.DaprAggregator ? "" : $"{summary.SampleCount} samples, {summary.PayloadBytes / 1024.0:F0} KiB, ")}{(summary.ClosedByDeadline ? "deadline" : o.Asynchronous ? "buffer" : "quorum")}) in {summary.Seconds:F1} s -> model {closed.Version}, test accuracy {score.Accuracy * 100:F2}%{(model.Version == closed.Version ? "" : " (evaluated a later model)")}{(summary.Evaluation is { } fe ? $"; on the devices' own data the model they trained from scored {fe.Accuracy * 100:F2}% ({fe.Examples} examples, {fe.Clients} devices)" : "")}"));
            if (closed.Final) evaluated.TrySetResult();
            return ValueTask.CompletedTask;
        }

        // Either the in-process aggregator or the Dapr functions behind this app's sidecar; the rest is the same.
        // The in-process rounds are watched from before they start: a resumed round may close at once.
        var asynchronous = o.Asynchronous ? new AsynchronousOptions
        {
            Versions = o.Rounds,
            BufferSize = o.BufferSize == 0 ? o.MinClients : o.BufferSize,
            Concurrency = o.Concurrency,
            MaxStaleness = o.MaxStaleness,
            MaxHistoryBytes = (long)(o.HistoryMegabytes * 1024 * 1024),
            ServerLearningRate = ((FedAvg)o.Strategy).ServerLearningRate,
            Plan = roundOptions.Plan,
            TaskLifetime = TimeSpan.FromSeconds(o.RoundDeadlineSeconds),
            CorrectionQueueCapacity = o.CorrectionQueue,
            CorrectFrom = o.CorrectFrom,
        }.Validate() : null;
        var correctorSettings = new CorrectorSettings { Seed = o.Seed };
        var weighting = CorrectorCatalog.WeightingOf(o.Corrector, correctorSettings);
        await using var hosted = asynchronous is not null && o.DaprAggregator
            // The leaves weigh staleness themselves; dc-asgd and the inversion run in the corrector app, never here.
            ? await HostedRounds.StartDaprAsynchronousAsync(gatewayOptions, listen, tokens, evaluator.Layout, initial, asynchronous,
                weighting ?? CorrectorCatalog.Fallback(correctorSettings), CorrectorCatalog.Fallback(correctorSettings), corrects: weighting is null,
                logging, TimeSpan.FromSeconds(o.SidecarWaitSeconds), cancellationToken)
            : asynchronous is not null
            ? await HostedRounds.StartAsynchronousAsync(gatewayOptions, listen, tokens, evaluator.Layout, initial, asynchronous,
                CorrectorCatalog.Create(o.Corrector, correctorSettings, evaluator.Layout,
                    (dataset.Train.Rows, dataset.Train.Columns, dataset.Train.ClassCount), roundOptions.Plan, o.InversionSamples),
                CorrectorCatalog.Fallback(new CorrectorSettings()), logging, loggers, cancellationToken, OnRoundClosed,
                o.NodeStorePath, (long)(o.NodeStoreMegabytes * 1024 * 1024))
            : o.DaprAggregator
            ? await HostedRounds.StartDaprAsync(gatewayOptions, listen, tokens, evaluator.Layout, initial, roundOptions, logging, TimeSpan.FromSeconds(o.SidecarWaitSeconds), cancellationToken,
                o.NodeStorePath, (long)(o.NodeStoreMegabytes * 1024 * 1024))
            : await HostedRounds.StartInProcessAsync(gatewayOptions, listen, tokens, evaluator.Layout, initial, roundOptions, logging, loggers, cancellationToken, o.StateDirectory, OnRoundClosed,
                o.NodeStorePath, (long)(o.NodeStoreMegabytes * 1024 * 1024));
        var coordinator = hosted.Coordinator;
        var server = hosted.Server;
        await using var onRound = o.DaprAggregator ? hosted.RoundEvents.Subscribe<RoundClosed>((closed, _) => OnRoundClosed(coordinator, closed)) : null;

        // Rounds closed before a restart: their models are in the journal, and are scored again here.
        foreach (var kept in hosted.Resumed.Rounds)
        {
            var score = evaluator.Evaluate(kept.Weights.Span, dataset.Test, 0, dataset.Test.Count);
            lock (served) served.Add(new ServedRound(kept.Summary, score.Accuracy, score.MeanLoss));
        }
        if (!hosted.Resumed.IsEmpty)
            output.WriteLine($"Resumed from {o.StateDirectory}: {hosted.Resumed.Rounds.Count} rounds closed, round {hosted.Resumed.LastRound + 1} open with {hosted.Resumed.PendingPayloads.Count} acknowledged updates folded again; {hosted.Resumed.Accepted.Count} acknowledged updates in the ledger.");
        if (hosted.Resumed.LastRound >= o.Rounds) evaluated.TrySetResult();
        var wall = Stopwatch.StartNew();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Listening on {server.Address} - {o.Strategy.Name} {(o.DaprAggregator ? $"by the Dapr aggregator functions (ModelPublished on port {o.DaprAppPort})" : "in process")}, {o.Codec} updates, {DownstreamArgument.Format(o.Downstream, o.DownstreamFedZip)} downloads, {(asynchronous is { } a ? $"asynchronous: {a.Versions} versions, a version every {a.BufferSize} arrivals, {(a.Concurrency == 0 ? "every device that asks trains" : $"{a.Concurrency} devices train at once")}, stale updates corrected by {o.Corrector} from a window of {a.WindowFor(evaluator.Layout)} models" : $"{o.Rounds} rounds, {o.MinClients} updates close a round (deadline {o.RoundDeadlineSeconds:0.#} s)")}, model {evaluator.Layout.TotalLength:N0} parameters ({evaluator.Layout.TotalLength * (double)sizeof(float) / 1e6:F1} MB of float32, --hidden {o.Hidden}), seed {o.Seed}"));
        output.Flush();

        bool stopped = false;
        // Rounds that stop with an error (a journal that can no longer keep records) end the wait too:
        // WhenAll alone would wait on for a final round that never comes.
        _ = coordinator.Completion.ContinueWith(t => evaluated.TrySetException(t.Exception!.InnerExceptions),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        try
        {
            await Task.WhenAll(coordinator.Completion, evaluated.Task).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // SIGTERM or SIGINT: take no new calls, let uploads in flight finish for --drain seconds, then report.
            stopped = true;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Stopping: draining uploads in flight (up to {o.DrainSeconds:0.#} s)."));
            output.Flush();
            try
            {
                await server.StopAsync(TimeSpan.FromSeconds(o.DrainSeconds));
            }
            catch (OperationCanceledException)
            {
                // Uploads still streaming were cut; none was acknowledged, and the devices resume or resend them.
            }
        }
        catch (IOException e)
        {
            // The journal could not keep a round (a full disk): nothing acknowledged is lost, a restart folds it again.
            throw new InvalidOptionException($"--state {o.StateDirectory}: {e.Message}. Nothing acknowledged is lost: free space and restart with the same --state.");
        }
        double seconds = wall.Elapsed.TotalSeconds;
        if (!cancellationToken.IsCancellationRequested && o.LingerSeconds > 0)
            await Task.Delay(TimeSpan.FromSeconds(o.LingerSeconds), CancellationToken.None);

        var configuration = new JsonObject
        {
            ["strategy"] = o.Strategy.Name,
            ["client_evaluation"] = o.ClientEvaluation,
            ["aggregator"] = o.DaprAggregator ? "dapr" : "in-process",
            ["hierarchy_fan_in"] = o.HierarchyFanIn,
            ["codec"] = o.Codec.ToString().ToLowerInvariant(),
            ["update_norm"] = o.UpdateNorm.ToString().ToLowerInvariant(),
            ["max_update_norm"] = o.MaxUpdateNorm is { } norm ? norm.ToString(CultureInfo.InvariantCulture) : "auto",
            ["max_samples"] = o.MaxSamples is { } cap ? cap.ToString(CultureInfo.InvariantCulture) : "auto",
            ["upload_idle_timeout_seconds"] = o.UploadIdleTimeoutSeconds,
            ["downstream"] = DownstreamArgument.Format(o.Downstream, o.DownstreamFedZip),
            ["min_clients"] = o.MinClients,
            ["clients_per_round"] = roundOptions.TasksPerRound,
            ["round_deadline_seconds"] = o.RoundDeadlineSeconds,
            ["rounds"] = o.Rounds,
            ["local_epochs"] = o.LocalEpochs,
            ["batch"] = o.BatchSize,
            ["lr"] = o.LearningRate,
            ["seed"] = o.Seed,
            ["hidden"] = o.Hidden,
            ["parameters"] = evaluator.Layout.TotalLength,
            ["data"] = dataset.Source,
            ["address"] = server.Address.ToString(),
            ["state"] = o.StateDirectory is null ? null : Path.GetFullPath(o.StateDirectory),
            ["resumed_at_round"] = hosted.Resumed.IsEmpty ? null : hosted.Resumed.LastRound + 1,
            ["stopped_by_signal"] = stopped,
            ["mode"] = o.Asynchronous ? "async" : "sync",
        };
        var metrics = server.Metrics;
        var gateway = new JsonObject
        {
            ["accepted"] = metrics.Accepted,
            ["duplicates"] = metrics.Duplicates,
            ["rejected"] = metrics.Rejected,
            ["bytes_received"] = metrics.BytesReceived,
            ["bytes_sent"] = metrics.BytesSent,
            ["full_downloads"] = metrics.FullDownloads,
            ["delta_downloads"] = metrics.DeltaDownloads,
            ["peak_concurrent_uploads"] = metrics.PeakActiveUploads,
            ["refused_by_validation"] = metrics.RefusedByValidation,
            ["refused_by_norm"] = metrics.RefusedByNorm,
            ["clipped_by_norm"] = metrics.ClippedByNorm,
            ["capped_weights"] = metrics.CappedWeights,
            ["timed_out_uploads"] = metrics.TimedOutUploads,
            ["store_full_refusals"] = metrics.StoreFullRefusals,
            ["correction_queue_refusals"] = metrics.CorrectionQueueRefusals,
            ["concurrent_stream_refusals"] = metrics.ConcurrentStreamRefusals,
            ["throttled_enrollments"] = metrics.ThrottledEnrollments,
        };
        ServedRound[] rows;
        lock (served) rows = [.. served.OrderBy(r => r.Summary.Round)];
        ServeReport.Write(outputDirectory, rows, configuration, gateway, seconds,
            hosted.Asynchronous is { } async ? ServeReport.Asynchronous(async.Statistics(), async.Options) : null);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(stopped ? "Stopped" : "Done")}: {rows.Length} rounds, {metrics.Accepted} updates accepted ({metrics.Duplicates} duplicates answered), final test accuracy {(rows.Length == 0 ? 0 : rows[^1].Accuracy) * 100:F2}% in {seconds:F1} s; wrote {Path.GetFullPath(outputDirectory)}"));
        return 0; // A stop by signal that drained and reported is a clean exit.
    }
}
