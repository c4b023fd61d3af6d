using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Offload.Aggregator.Strategies;
using Offload.Cli.Reports;
using Offload.Cli.Simulation;
using Offload.Client.Training;
using Offload.Core.Data;
using Spectre.Console;

namespace Offload.Cli.Commands;

/// <summary><c>offload simulate</c>: synchronous FedAvg on Fashion-MNIST in one process.</summary>
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
        var output = new Option<string>("--out") { Description = "Output folder for rounds.csv, summary.json, accuracy.png.", DefaultValueFactory = _ => "runs/simulate" };

        var command = new Command("simulate", "Run synchronous federated learning (FedAvg) on Fashion-MNIST in this process.")
        {
            clients, rounds, fraction, epochs, batch, lr, partition, alpha, seed, workers, hierarchy, data, output,
        };
        command.SetAction(parsed =>
        {
            var options = new SimulationOptions
            {
                Clients = parsed.GetValue(clients),
                Rounds = parsed.GetValue(rounds),
                Fraction = parsed.GetValue(fraction),
                LocalEpochs = parsed.GetValue(epochs),
                BatchSize = parsed.GetValue(batch),
                LearningRate = parsed.GetValue(lr),
                Partition = ParsePartition(parsed.GetValue(partition)!),
                Alpha = parsed.GetValue(alpha),
                Seed = parsed.GetValue(seed),
                Workers = parsed.GetValue(workers),
                HierarchyFanIn = parsed.GetValue(hierarchy),
            }.Validate();
            return Run(options, parsed.GetValue(data), parsed.GetValue(output)!);
        });
        return command;
    }

    /// <summary>Maps the <c>--partition</c> word to its kind.</summary>
    /// <exception cref="InvalidOptionException">The word is not iid, dirichlet or shards.</exception>
    public static PartitionKind ParsePartition(string value) => value.ToLowerInvariant() switch
    {
        "iid" => PartitionKind.Iid,
        "dirichlet" => PartitionKind.Dirichlet,
        "shards" => PartitionKind.Shards,
        _ => throw new InvalidOptionException($"--partition must be iid, dirichlet or shards (got '{value}')."),
    };

    private static int Run(SimulationOptions options, string? dataDirectory, string outputDirectory)
    {
        var console = AnsiConsole.Console;
        var dataset = LoadData(dataDirectory);
        if (dataset.IsBundled && dataDirectory is null)
            console.MarkupLine($"[yellow]Using the {Markup.Escape(dataset.Source)}: no full data set found. For the full set: {FashionMnistCatalog.InstallCommand}, or --data DIR.[/]");
        else
            console.MarkupLine($"Data: {Markup.Escape(dataset.Source)}");
        if (options.Clients > dataset.Train.Count)
            throw new InvalidOptionException($"--clients {options.Clients} exceeds the {dataset.Train.Count} training samples.");

        var partitions = ClientPartitions.Create(dataset.Train, options);
        TorchSharp.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / Math.Min(options.Workers, options.ClientsPerRound)));
        using var simulation = new FederatedSimulation(options, dataset.Train, dataset.Test, partitions, new FedAvg(),
            worker => TorchTrainer.CreateDefault(options.Seed, dataset.Train.Rows, dataset.Train.Columns, dataset.Train.ClassCount));
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"FedAvg: {options.Clients} clients ({options.Partition.ToString().ToLowerInvariant()}), {options.ClientsPerRound} per round, {options.Rounds} rounds, {simulation.Layout.TotalLength:N0} parameters, {simulation.Workers} workers"));

        SimulationResult result = null!;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var observer = new ProgressObserver(context, options.Rounds);
                result = simulation.Run(observer);
            });

        var configuration = Configuration(options, dataset.Source);
        RunReport.Write(outputDirectory, result, configuration, dataset.Source);
        var table = new Table().AddColumns("round", "accuracy", "loss", "seconds");
        foreach (var r in result.Rounds)
            table.AddRow(r.Round.ToString(CultureInfo.InvariantCulture), (r.Accuracy * 100).ToString("F2", CultureInfo.InvariantCulture) + "%",
                r.Loss.ToString("F4", CultureInfo.InvariantCulture), r.Seconds.ToString("F1", CultureInfo.InvariantCulture));
        console.Write(table);
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"Final accuracy [bold]{result.FinalAccuracy * 100:F2}%[/] (best {result.BestAccuracy * 100:F2}%) in {result.WallSeconds:F1} s; wrote {Markup.Escape(Path.GetFullPath(outputDirectory))}"));
        return 0;
    }

    /// <summary>The word that picks the bundled subset explicitly.</summary>
    public const string BundledData = "bundled";

    /// <summary>
    /// <c>--data DIR</c> must hold the files; <c>--data bundled</c> picks the embedded subset; no option
    /// searches $OFFLOAD_DATA and the Debian package, then falls back to the bundled subset.
    /// </summary>
    public static TrainTestDataset LoadData(string? dataDirectory) => dataDirectory switch
    {
        null => FashionMnistCatalog.FromEnvironment().ResolveOrBundled(),
        BundledData => FashionMnistCatalog.LoadBundled(),
        _ => FashionMnistCatalog.FromEnvironment().Resolve(dataDirectory),
    };

    private static JsonObject Configuration(SimulationOptions o, string source) => new()
    {
        ["strategy"] = "fedavg",
        ["clients"] = o.Clients,
        ["rounds"] = o.Rounds,
        ["fraction"] = o.Fraction,
        ["clients_per_round"] = o.ClientsPerRound,
        ["local_epochs"] = o.LocalEpochs,
        ["batch"] = o.BatchSize,
        ["lr"] = o.LearningRate,
        ["partition"] = o.Partition.ToString().ToLowerInvariant(),
        ["alpha"] = o.Alpha,
        ["seed"] = o.Seed,
        ["workers"] = o.Workers,
        ["hierarchy_fan_in"] = o.HierarchyFanIn,
        ["data"] = source,
        ["model"] = "cnn(conv5x5x16, conv5x5x32, fc64, fc10)",
    };

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
