using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Offload.Aggregator.Strategies;
using Offload.Cli.Options;
using Offload.Cli.Reports;
using Offload.Cli.Simulation;
using Offload.Client.Training;
using Offload.Core.Codec;
using Spectre.Console;

namespace Offload.Cli.Commands;

/// <summary><c>offload simulate</c>: synchronous federated learning (any <c>--strategy</c>) on Fashion-MNIST in one process.</summary>
public static class SimulateCommand
{
    /// <summary>Builds the command with its options.</summary>
    public static Command Create()
    {
        var defaults = new SimulationOptions();
        var clients = new Option<int>("--clients") { Description = "Number of simulated clients (K).", DefaultValueFactory = _ => defaults.Clients };
        var rounds = new Option<int>("--rounds") { Description = "Communication rounds.", DefaultValueFactory = _ => defaults.Rounds };
        var fraction = new Option<double>("--fraction") { Description = "Fraction of clients per round (C), in (0, 1].", DefaultValueFactory = _ => defaults.Fraction };
        var epochs = new Option<int>("--local-epochs") { Description = "Local epochs per round (E).", DefaultValueFactory = _ => defaults.LocalEpochs };
        var batch = new Option<int>("--batch") { Description = "Local batch size (B).", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Local SGD learning rate.", DefaultValueFactory = _ => defaults.LearningRate };
        var partition = new Option<string>("--partition") { Description = "iid | dirichlet | shards.", DefaultValueFactory = _ => "iid" };
        var alpha = new Option<double>("--alpha") { Description = "Dirichlet concentration (with --partition dirichlet).", DefaultValueFactory = _ => defaults.Alpha };
        var seed = new Option<int>("--seed") { Description = "Seed for everything random.", DefaultValueFactory = _ => defaults.Seed };
        var workers = new Option<int>("--workers") { Description = "Clients trained at once (default: cores).", DefaultValueFactory = _ => defaults.Workers };
        var data = new Option<string?>("--data") { Description = "Folder with the four Fashion-MNIST IDX files (default: $OFFLOAD_DATA, /usr/share/datasets/fashion-mnist, else the bundled subset); 'bundled' picks the embedded subset." };
        var hierarchy = new Option<int>("--hierarchy") { Description = "Aggregate through a leaf/middle/top tree with this fan-in bound (0: one flat accumulator).", DefaultValueFactory = _ => 0 };
        var codec = new Option<string>("--codec") { Description = "Upload codec: none (raw float32) | fedzip.", DefaultValueFactory = _ => "none" };
        var topZ = new Option<double>("--topz") { Description = "FedZip: fraction of each tensor's entries kept, in (0, 1].", DefaultValueFactory = _ => FedZipOptions.Default.TopZ };
        var clusters = new Option<int>("--clusters") { Description = "FedZip: centroids the kept values are quantized to.", DefaultValueFactory = _ => FedZipOptions.Default.Clusters };
        var encoding = new Option<string>("--encoding") { Description = "FedZip: huffman | positions | gaps | auto.", DefaultValueFactory = _ => "auto" };
        var errorFeedback = new Option<string>("--error-feedback") { Description = "FedZip: carry what compression dropped into the next update: on | off.", DefaultValueFactory = _ => "on" };
        var denseThreshold = new Option<int>("--dense-threshold") { Description = "FedZip: tensors smaller than this go dense and exact (0: sparsify all).", DefaultValueFactory = _ => FedZipOptions.Default.DenseThreshold };
        var downstream = new Option<string>("--downstream") { Description = "Model sent to clients: full (float32; also 'none') | fedzip[:TOPZ[:CLUSTERS]] (the FedZip-encoded change since the clients' model, as serve --downstream; top-z 0.1 and 8 clusters unless given).", DefaultValueFactory = _ => "full" };
        var output = new Option<string>("--out") { Description = "Output folder for rounds.csv, summary.json, accuracy.png.", DefaultValueFactory = _ => "runs/simulate" };
        var strategy = StrategyOption.Create();
        var nodes = new Option<int>("--nodes") { Description = "Nodes the devices land on (1: none). With more, each client lands on one node (Zipf --node-skew) and every round's tree is placed by the locality-aware planner and by round-robin pairing: rounds.csv and summary.json give the update bytes that stay on their node.", DefaultValueFactory = _ => defaults.Nodes };
        var nodeSkew = new Option<double>("--node-skew") { Description = "With --nodes: Zipf exponent of clients over the nodes (0: even).", DefaultValueFactory = _ => defaults.NodeSkew };

        var command = new Command("simulate", "Run synchronous federated learning (FedAvg unless --strategy) on Fashion-MNIST in this process.")
        {
            strategy, clients, rounds, fraction, epochs, batch, lr, partition, alpha, seed, workers, hierarchy,
            codec, topZ, clusters, encoding, errorFeedback, denseThreshold, downstream, data, output, nodes, nodeSkew,
        };
        command.SetAction(parsed =>
        {
            var (downstreamMode, downstreamFedZip) = DownstreamArgument.Parse(parsed.GetValue(downstream)!);
            var options = new SimulationOptions
            {
                Strategy = StrategyOption.Parse(parsed.GetValue(strategy)!),
                Clients = parsed.GetValue(clients),
                Rounds = parsed.GetValue(rounds),
                Fraction = parsed.GetValue(fraction),
                LocalEpochs = parsed.GetValue(epochs),
                BatchSize = parsed.GetValue(batch),
                LearningRate = parsed.GetValue(lr),
                Partition = SimulationOptions.ParsePartition(parsed.GetValue(partition)!),
                Alpha = parsed.GetValue(alpha),
                Seed = parsed.GetValue(seed),
                Workers = parsed.GetValue(workers),
                HierarchyFanIn = parsed.GetValue(hierarchy),
                FedZip = CodecOptions.Parse(parsed.GetValue(codec)!, parsed.GetValue(topZ), parsed.GetValue(clusters),
                    parsed.GetValue(encoding)!, parsed.GetValue(errorFeedback)!, parsed.GetValue(denseThreshold)),
                Downstream = downstreamMode,
                DownstreamFedZip = downstreamFedZip,
                Nodes = parsed.GetValue(nodes),
                NodeSkew = parsed.GetValue(nodeSkew),
            }.Validate();
            return Run(options, parsed.GetValue(data), parsed.GetValue(output)!);
        });
        return command;
    }

    private static int Run(SimulationOptions options, string? dataDirectory, string outputDirectory)
    {
        var console = AnsiConsole.Console;
        var dataset = DataOption.AnnouncedData(console, dataDirectory, options.Clients);

        var sample = new LastRoundSample(options.Rounds);
        using var simulation = FederatedSimulation.OnImages(options, dataset, ClientPartitions.Create(dataset.Train, options), sample);
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"{Markup.Escape(options.Strategy.Name)}: {options.Clients} clients ({options.Partition.ToString().ToLowerInvariant()}), {options.ClientsPerRound} per round, {options.Rounds} rounds, {simulation.Layout.TotalLength:N0} parameters, {simulation.Workers} workers"));

        SimulationResult result = null!;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var observer = new ProgressObserver(context, options.Rounds);
                result = simulation.Run(observer);
            });

        var configuration = options.ToJson(dataset.Source);
        RunReport.Write(outputDirectory, result, configuration, dataset.Source);
        if (sample.Payload is { } payload) File.WriteAllBytes(Path.Combine(outputDirectory, SamplePayloadFile), payload);
        var table = new Table().AddColumns("round", "accuracy", "loss", "seconds");
        if (options.Nodes > 1) table.AddColumns("bytes on their node (planned / round-robin)");
        foreach (var r in result.Rounds)
        {
            string[] cells = [r.Round.ToString(CultureInfo.InvariantCulture), (r.Accuracy * 100).ToString("F2", CultureInfo.InvariantCulture) + "%",
                r.Loss.ToString("F4", CultureInfo.InvariantCulture), r.Seconds.ToString("F1", CultureInfo.InvariantCulture)];
            if (options.Nodes > 1)
                cells = [.. cells, r.Placement is { } p ? string.Create(CultureInfo.InvariantCulture, $"{p.PlannedLocal * 100:F1}% / {p.RoundRobinLocal * 100:F1}%") : "-"];
            table.AddRow(cells);
        }
        console.Write(table);
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"Final accuracy [bold]{result.FinalAccuracy * 100:F2}%[/] (best {result.BestAccuracy * 100:F2}%) in {result.WallSeconds:F1} s; wrote {Markup.Escape(Path.GetFullPath(outputDirectory))}"));
        return 0;
    }

    /// <summary>The file, in the output folder, holding one real upload of the last round (for <c>offload inspect</c>).</summary>
    public const string SamplePayloadFile = "update-sample.bin";

    /// <summary>Keeps the payload of the lowest-numbered client of the last round.</summary>
    private sealed class LastRoundSample(int lastRound) : IUpdateTap
    {
        private readonly object _gate = new();
        private int _client = int.MaxValue;

        public byte[]? Payload { get; private set; }

        public void Encoded(int round, int client, ReadOnlySpan<float> update, ReadOnlySpan<byte> payload)
        {
            if (round != lastRound) return;
            lock (_gate)
            {
                if (client >= _client) return;
                _client = client;
                Payload = payload.ToArray();
            }
        }
    }

    /// <summary>One progress bar for rounds, one for the clients of the current round.</summary>
    private sealed class ProgressObserver(ProgressContext context, int rounds) : ISimulationObserver
    {
        private readonly ProgressTask _rounds = context.AddTask("rounds", maxValue: rounds);
        private readonly ProgressTask _clients = context.AddTask("clients", maxValue: 1);

        public void RoundStarted(int round, int selected)
        {
            _clients.Description = $"round {round}: clients";
            _clients.MaxValue = selected;
            _clients.Value = 0;
        }

        public void ClientFinished(int round, int finished, int selected) => _clients.Value = finished;

        public void RoundFinished(RoundRecord record)
        {
            _rounds.Increment(1);
            _rounds.Description = string.Create(CultureInfo.InvariantCulture, $"rounds (acc {record.Accuracy * 100:F1}%)");
        }
    }
}
