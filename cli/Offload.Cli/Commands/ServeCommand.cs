using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Cli.Options;
using Offload.Cli.Serving;
using Offload.Client.Training;
using Offload.Core.Codec;
using Offload.Core.Federation;
using Offload.Gateway.Authentication;
using Offload.Gateway.Hosting;
using Offload.Gateway.Service;

namespace Offload.Cli.Commands;

/// <summary><c>offload serve</c>: the gRPC gateway plus a synchronous aggregator (in process, or the Dapr functions) running <c>--strategy</c>.</summary>
public static class ServeCommand
{
    /// <summary>Builds the command with its options.</summary>
    public static Command Create()
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
        var appPort = new Option<int>("--app-port") { Description = "With --aggregator dapr: the HTTP port the sidecar delivers ModelPublished to (its app-port).", DefaultValueFactory = _ => d.DaprAppPort };

        var command = new Command("serve", "Run the gRPC gateway and a synchronous aggregator (FedAvg unless --strategy) for devices running 'offload client'.")
        {
            strategy, clientEvaluation, port, host, minClients, perRound, deadline, rounds, epochs, batch, lr, seed, hidden, codec, maxUpdate, linger, tokensFile, token, code, config, data, output, verbose, dapr, hierarchy,
            aggregator, appPort, sidecarWait, downstream,
        };
        command.SetAction((parsed, cancellationToken) =>
        {
            if (parsed.GetValue(dapr))
            {
                int daprPort = parsed.GetResult(port) is { Implicit: false } ? parsed.GetValue(port) ?? Functions.Names.DaprNames.FunctionsPort : Functions.Names.DaprNames.FunctionsPort;
                var daprOptions = new ServeOptions { Port = daprPort, Host = parsed.GetValue(host)! }.Validate();
                return RunDaprAsync(daprOptions, parsed.GetValue(verbose), Console.Out, cancellationToken);
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
                Port = parsed.GetResult(port) is { Implicit: false } ? parsed.GetValue(port) : EndpointsConfigured(parsed.GetValue(config)!) ? null : d.Port,
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
                Codec = ParseCodec(parsed.GetValue(codec)!),
                LingerSeconds = parsed.GetValue(linger),
                HierarchyFanIn = parsed.GetValue(hierarchy),
                Downstream = downstreamMode,
                DownstreamFedZip = downstreamFedZip,
                DaprAggregator = ParseAggregator(parsed.GetValue(aggregator)!),
                DaprAppPort = parsed.GetValue(appPort),
                SidecarWaitSeconds = parsed.GetValue(sidecarWait),
            }.Validate();
            var tokens = TokenArguments.Create(parsed.GetValue(tokensFile)!, parsed.GetValue(token)!, parsed.GetValue(code)!);
            var configFiles = parsed.GetValue(config)!;
            foreach (string file in configFiles)
                if (!File.Exists(file)) throw new InvalidOptionException($"--config: the file '{file}' does not exist.");
            return RunAsync(options, tokens, configFiles, parsed.GetValue(data), parsed.GetValue(output)!, parsed.GetValue(verbose), Console.Out, cancellationToken);
        });
        return command;
    }

    /// <summary>Whether Kestrel endpoints come from configuration (a --config file or Kestrel__Endpoints__* variables), so no default port is bound.</summary>
    private static bool EndpointsConfigured(string[] configFiles) =>
        configFiles.Length > 0 || Environment.GetEnvironmentVariables().Keys.Cast<object>()
            .Any(k => k.ToString()!.StartsWith("Kestrel__Endpoints__", StringComparison.OrdinalIgnoreCase));

    /// <summary>Maps the <c>--codec</c> word to a codec.</summary>
    /// <exception cref="InvalidOptionException">The word is not identity or fedzip.</exception>
    public static PayloadCodec ParseCodec(string value) => value.ToLowerInvariant() switch
    {
        "identity" => PayloadCodec.Identity,
        "fedzip" => PayloadCodec.FedZip,
        _ => throw new InvalidOptionException($"--codec must be identity or fedzip (got '{value}')."),
    };

    /// <summary>Maps the <c>--aggregator</c> word: true for the Dapr functions.</summary>
    /// <exception cref="InvalidOptionException">The word is not in-process or dapr.</exception>
    public static bool ParseAggregator(string value) => value.ToLowerInvariant() switch
    {
        "in-process" => false,
        "dapr" => true,
        _ => throw new InvalidOptionException($"--aggregator must be in-process or dapr (got '{value}')."),
    };

    /// <summary><c>serve --dapr</c>: the aggregator functions as a Dapr app until cancelled.</summary>
    private static async Task<int> RunDaprAsync(ServeOptions o, bool verbose, TextWriter output, CancellationToken cancellationToken)
    {
        await using var app = await Functions.Hosting.AggregatorFunctionsHost.StartAsync(IPAddress.Parse(o.Host), o.Port ?? Functions.Names.DaprNames.FunctionsPort,
            logging => logging.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning)
                .AddFilter("Microsoft", LogLevel.Warning), cancellationToken: cancellationToken);
        // The functions host no actor (the gateway does) and read no published model; --verbose logs each emit and model stored.
        output.WriteLine($"Aggregator functions (Dapr app '{Functions.Names.DaprNames.FunctionsAppId}') listening on {string.Join(", ", app.Urls)}: topics {Functions.Names.DaprNames.UpdateArrivedTopic}, {Functions.Names.DaprNames.PartialReadyTopic}, {Functions.Names.DaprNames.AggregatorDueTopic} on '{Functions.Names.DaprNames.PubSub}'; rounds on the gateway's actor {Functions.Names.DaprNames.RoundActorType}. Ctrl+C stops.");
        output.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
        // SIGTERM or SIGINT: new deliveries are answered RETRY while the folds in flight finish.
        output.WriteLine(await Functions.Hosting.AggregatorFunctionsHost.DrainAsync(app, Functions.Hosting.AggregatorFunctionsHost.DrainTimeout));
        output.Flush();
        return 0;
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
        var gatewayOptions = new GatewayOptions { MaxUpdateBytes = (long)(o.MaxUpdateMegabytes * 1024 * 1024), Codec = o.Codec };
        var listen = new GatewayListenOptions
        {
            Address = IPAddress.Parse(o.Host),
            Port = o.Port,
            JsonFiles = configFiles,
            SidecarAppPort = o.DaprAggregator ? o.DaprAppPort : null,
        };

        // Either the in-process aggregator or the Dapr functions behind this app's sidecar; the rest is the same.
        await using var hosted = o.DaprAggregator
            ? await HostedRounds.StartDaprAsync(gatewayOptions, listen, tokens, evaluator.Layout, initial, roundOptions, logging, TimeSpan.FromSeconds(o.SidecarWaitSeconds), cancellationToken)
            : await HostedRounds.StartInProcessAsync(gatewayOptions, listen, tokens, evaluator.Layout, initial, roundOptions, logging, loggers, cancellationToken);
        var coordinator = hosted.Coordinator;
        var server = hosted.Server;

        var served = new List<ServedRound>();
        var evaluated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var onRound = hosted.RoundEvents.Subscribe<RoundClosed>((closed, _) =>
        {
            var model = coordinator.Model;
            var summary = coordinator.Rounds.First(r => r.Round == closed.Round);
            var score = evaluator.Evaluate(model.Weights.Span, dataset.Test, 0, dataset.Test.Count);
            lock (served) served.Add(new ServedRound(summary, score.Accuracy, score.MeanLoss));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                // The Dapr functions report updates only; samples and bytes are known where folding happens.
                $"round {closed.Round}/{o.Rounds}: {summary.Updates} updates ({(o.DaprAggregator ? "" : $"{summary.SampleCount} samples, {summary.PayloadBytes / 1024.0:F0} KiB, ")}{(summary.ClosedByDeadline ? "deadline" : "quorum")}) in {summary.Seconds:F1} s -> model {closed.Version}, test accuracy {score.Accuracy * 100:F2}%{(model.Version == closed.Version ? "" : " (evaluated a later model)")}{(summary.Evaluation is { } fe ? $"; on the devices' own data the model they trained from scored {fe.Accuracy * 100:F2}% ({fe.Examples} examples, {fe.Clients} devices)" : "")}"));
            if (closed.Final) evaluated.TrySetResult();
            return ValueTask.CompletedTask;
        });
        var wall = Stopwatch.StartNew();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Listening on {server.Address} - {o.Strategy.Name} {(o.DaprAggregator ? $"by the Dapr aggregator functions (ModelPublished on port {o.DaprAppPort})" : "in process")}, {o.Codec} updates, {DownstreamArgument.Format(o.Downstream, o.DownstreamFedZip)} downloads, {o.Rounds} rounds, {o.MinClients} updates close a round (deadline {o.RoundDeadlineSeconds:0.#} s), model {evaluator.Layout.TotalLength:N0} parameters ({evaluator.Layout.TotalLength * (double)sizeof(float) / 1e6:F1} MB of float32, --hidden {o.Hidden}), seed {o.Seed}"));
        output.Flush();

        try
        {
            await Task.WhenAll(coordinator.Completion, evaluated.Task).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            output.WriteLine("Stopped before the last round.");
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
        };
        ServedRound[] rows;
        lock (served) rows = served.ToArray();
        ServeReport.Write(outputDirectory, rows, configuration, gateway, seconds);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Done: {rows.Length} rounds, {metrics.Accepted} updates accepted ({metrics.Duplicates} duplicates answered), final test accuracy {(rows.Length == 0 ? 0 : rows[^1].Accuracy) * 100:F2}% in {seconds:F1} s; wrote {Path.GetFullPath(outputDirectory)}"));
        return cancellationToken.IsCancellationRequested ? 130 : 0;
    }
}
