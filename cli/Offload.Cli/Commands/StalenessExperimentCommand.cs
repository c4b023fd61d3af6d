using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Offload.Cli.Experiments.Staleness;
using Offload.Cli.Options;
using Offload.Cli.Simulation.Asynchronous;
using Offload.Client.Inversion;
using Spectre.Console;

namespace Offload.Cli.Commands;

/// <summary><c>offload experiment staleness</c>: every staleness strategy on Wang and Gao's fixed-delay Fashion-MNIST setup.</summary>
public static class StalenessExperimentCommand
{
    /// <summary>Builds the command with its options.</summary>
    public static Command Create()
    {
        var d = new StalenessExperimentOptions();
        var i = d.Inversion;
        var output = new Option<string>("--out") { Description = "Output folder for accuracy.csv, corrections.csv, summary.json and accuracy-tau*.png.", DefaultValueFactory = _ => "runs/staleness" };
        var data = new Option<string?>("--data") { Description = "Folder with the four Fashion-MNIST IDX files (default: $OFFLOAD_DATA, /usr/share/datasets/fashion-mnist, else the bundled subset); 'bundled' picks the embedded subset." };
        var rounds = new Option<int>("--rounds") { Description = "Rounds (model versions) per strategy.", DefaultValueFactory = _ => d.Rounds };
        var taus = new Option<string>("--tau") { Description = "Staleness of the delayed clients; a comma-separated list runs each.", DefaultValueFactory = _ => string.Join(',', d.Taus) };
        var strategies = new Option<string>("--strategies") { Description = $"Comma-separated, among: {string.Join(", ", StalenessExperimentOptions.AllStrategies)}; 'all' for every one.", DefaultValueFactory = _ => string.Join(',', d.Strategies) };
        var clients = new Option<int>("--clients") { Description = "Clients, one label-sorted shard each.", DefaultValueFactory = _ => d.Clients };
        var perRound = new Option<int>("--per-round") { Description = "Clients per round (FedBuff's K).", DefaultValueFactory = _ => d.ClientsPerRound };
        var staleClass = new Option<int>("--stale-class") { Description = "Clients holding this class are stale.", DefaultValueFactory = _ => d.StaleClass };
        var epochs = new Option<int>("--local-epochs") { Description = "Local epochs per round.", DefaultValueFactory = _ => d.LocalEpochs };
        var batch = new Option<int>("--batch") { Description = "Local batch size.", DefaultValueFactory = _ => d.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Local SGD learning rate.", DefaultValueFactory = _ => d.LearningRate };
        var seed = new Option<int>("--seed") { Description = "Seed for everything random.", DefaultValueFactory = _ => d.Seed };
        var workers = new Option<int>("--workers") { Description = "Clients trained at once (default: cores).", DefaultValueFactory = _ => d.Workers };
        var evalEvery = new Option<int>("--eval-every") { Description = "Evaluate every N rounds (and after the last).", DefaultValueFactory = _ => d.EvaluateEvery };
        var evalSamples = new Option<int>("--eval-samples") { Description = "Test samples per evaluation; 0 for all.", DefaultValueFactory = _ => d.EvaluationSamples };
        var polyA = new Option<double>("--poly-a") { Description = "FedAsync polynomial exponent a: weight (1+tau)^-a.", DefaultValueFactory = _ => d.PolynomialExponent };
        var hingeA = new Option<double>("--hinge-a") { Description = "FedAsync hinge slope a.", DefaultValueFactory = _ => d.HingeSlope };
        var hingeB = new Option<int>("--hinge-b") { Description = "FedAsync hinge threshold b.", DefaultValueFactory = _ => d.HingeThreshold };
        var dcLambda = new Option<double>("--dc-lambda") { Description = "DC-ASGD lambda in update units.", DefaultValueFactory = _ => d.DcLambda };
        var dummies = new Option<int>("--dummies") { Description = "Dummy samples per inversion.", DefaultValueFactory = _ => i.DummySamples };
        var coldIterations = new Option<int>("--cold-iterations") { Description = "Inversion iterations from noise.", DefaultValueFactory = _ => i.ColdStartIterations };
        var warmIterations = new Option<int>("--warm-iterations") { Description = "Inversion iterations from the client's previous estimate.", DefaultValueFactory = _ => i.WarmStartIterations };
        var unrolled = new Option<int>("--unrolled-steps") { Description = "SGD steps the inversion-unrolled strategy unrolls.", DefaultValueFactory = _ => d.UnrolledSteps };
        var matching = new Option<string>("--matching") { Description = "cosine | l1.", DefaultValueFactory = _ => "cosine" };
        var form = new Option<string>("--form") { Description = "replace (the recovered data's update) | residual (stale update plus the change the data sees).", DefaultValueFactory = _ => "replace" };
        var gate = new Option<double>("--gate") { Description = "Quality gate: largest relative error of the reproduced stale update before falling back to weighting.", DefaultValueFactory = _ => d.GateThreshold };
        var measure = new Option<bool>("--measure-fresh") { Description = "Diagnostic: also train each stale client from the current model and record how far folded and stale updates are from that fresh update.", DefaultValueFactory = _ => d.MeasureAgainstFresh };
        var setup = new Option<string>("--setup") { Description = "fixed-delay (the paper's: the stale class's clients always tau versions behind) | devices (staleness emerges from log-normal device speed and bandwidth in virtual time; tau sets the window, W = tau + 1).", DefaultValueFactory = _ => "fixed-delay" };
        var dv = new Simulation.Asynchronous.DeviceHeterogeneityOptions();
        var speedSigma = new Option<double>("--speed-sigma") { Description = "With --setup devices: sigma of log(compute speed).", DefaultValueFactory = _ => dv.SpeedSigma };
        var bandwidthSigma = new Option<double>("--bandwidth-sigma") { Description = "With --setup devices: sigma of log(bandwidth).", DefaultValueFactory = _ => dv.BandwidthSigma };
        var concurrency = new Option<int>("--concurrency") { Description = "With --setup devices: clients training at once.", DefaultValueFactory = _ => dv.Concurrency };
        var codec = new Option<string>("--codec") { Description = "Upload codec: none (exact float32) | fedzip (each client's update FedZip-encoded with error feedback and decoded at the server, as a device sends it).", DefaultValueFactory = _ => "none" };
        var topZ = new Option<double>("--topz") { Description = "With --codec fedzip: fraction of each tensor's entries kept, in (0, 1].", DefaultValueFactory = _ => Offload.Core.Codec.FedZipOptions.Default.TopZ };
        var clusters = new Option<int>("--clusters") { Description = "With --codec fedzip: centroids the kept values are quantized to.", DefaultValueFactory = _ => Offload.Core.Codec.FedZipOptions.Default.Clusters };
        var queue = new Option<int>("--queue") { Description = "Stale updates that may wait for correction before ingest is pushed back.", DefaultValueFactory = _ => d.QueueCapacity };

        var command = new Command("staleness", "Compare staleness strategies (none, FedAsync, DC-ASGD, gradient inversion) on Fashion-MNIST with the clients of one class stale by tau.")
        {
            output, data, rounds, taus, strategies, clients, perRound, staleClass, epochs, batch, lr, seed, workers, evalEvery, evalSamples,
            polyA, hingeA, hingeB, dcLambda, dummies, coldIterations, warmIterations, unrolled, matching, form, gate, measure, setup, speedSigma, bandwidthSigma, concurrency, queue,
            codec, topZ, clusters,
        };
        command.SetAction(parsed =>
        {
            var options = new StalenessExperimentOptions
            {
                Rounds = parsed.GetValue(rounds),
                Taus = ParseTaus(parsed.GetValue(taus)!),
                Strategies = ParseStrategies(parsed.GetValue(strategies)!),
                Clients = parsed.GetValue(clients),
                ClientsPerRound = parsed.GetValue(perRound),
                StaleClass = parsed.GetValue(staleClass),
                LocalEpochs = parsed.GetValue(epochs),
                BatchSize = parsed.GetValue(batch),
                LearningRate = parsed.GetValue(lr),
                Seed = parsed.GetValue(seed),
                Workers = parsed.GetValue(workers),
                EvaluateEvery = parsed.GetValue(evalEvery),
                EvaluationSamples = parsed.GetValue(evalSamples),
                PolynomialExponent = parsed.GetValue(polyA),
                HingeSlope = parsed.GetValue(hingeA),
                HingeThreshold = parsed.GetValue(hingeB),
                DcLambda = parsed.GetValue(dcLambda),
                UnrolledSteps = parsed.GetValue(unrolled),
                GateThreshold = parsed.GetValue(gate),
                QueueCapacity = parsed.GetValue(queue),
                FedZip = CodecOptions.Parse(parsed.GetValue(codec)!, parsed.GetValue(topZ), parsed.GetValue(clusters), "auto", "on"),
                MeasureAgainstFresh = parsed.GetValue(measure),
                Devices = parsed.GetValue(setup)!.ToLowerInvariant() switch
                {
                    "fixed-delay" => null,
                    "devices" => dv with { SpeedSigma = parsed.GetValue(speedSigma), BandwidthSigma = parsed.GetValue(bandwidthSigma), Concurrency = parsed.GetValue(concurrency) },
                    var other => throw new InvalidOptionException($"--setup must be fixed-delay or devices (got '{other}')."),
                },
                Inversion = d.Inversion with
                {
                    DummySamples = parsed.GetValue(dummies),
                    ColdStartIterations = parsed.GetValue(coldIterations),
                    WarmStartIterations = parsed.GetValue(warmIterations),
                    Matching = ParseMatching(parsed.GetValue(matching)!),
                    Form = ParseForm(parsed.GetValue(form)!),
                },
            }.Validate();
            return Run(options, parsed.GetValue(data), parsed.GetValue(output)!);
        });
        return command;
    }

    /// <summary>Parses "10,40" into staleness values.</summary>
    /// <exception cref="InvalidOptionException">A value is not a non-negative integer.</exception>
    public static IReadOnlyList<int> ParseTaus(string value)
    {
        var list = new List<int>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int tau))
                throw new InvalidOptionException($"--tau must be a comma-separated list of non-negative integers (got '{value}').");
            if (!list.Contains(tau)) list.Add(tau);
        }
        if (list.Count == 0) throw new InvalidOptionException("--tau must name at least one value.");
        return list;
    }

    /// <summary>Parses "unweighted,inversion" (or "all") into strategy names, in report order.</summary>
    /// <exception cref="InvalidOptionException">A name is unknown.</exception>
    public static IReadOnlyList<string> ParseStrategies(string value)
    {
        var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).ToList();
        if (names.Contains("all")) return StalenessExperimentOptions.AllStrategies;
        foreach (var name in names)
            if (!StalenessExperimentOptions.AllStrategies.Contains(name))
                throw new InvalidOptionException($"--strategies: unknown '{name}'; choose among {string.Join(", ", StalenessExperimentOptions.AllStrategies)} or all.");
        if (names.Count == 0) throw new InvalidOptionException("--strategies must name at least one strategy.");
        return StalenessExperimentOptions.AllStrategies.Where(names.Contains).ToList();
    }

    private static UpdateMatching ParseMatching(string value) => value.ToLowerInvariant() switch
    {
        "cosine" => UpdateMatching.Cosine,
        "l1" => UpdateMatching.L1,
        _ => throw new InvalidOptionException($"--matching must be cosine or l1 (got '{value}')."),
    };

    private static FreshUpdateForm ParseForm(string value) => value.ToLowerInvariant() switch
    {
        "replace" => FreshUpdateForm.Replace,
        "residual" => FreshUpdateForm.Residual,
        _ => throw new InvalidOptionException($"--form must be replace or residual (got '{value}')."),
    };

    private static int Run(StalenessExperimentOptions options, string? dataDirectory, string outputDirectory)
    {
        var console = AnsiConsole.Console;
        var dataset = DataOption.LoadData(dataDirectory);
        if (dataset.IsBundled && dataDirectory is null)
            console.MarkupLine($"[yellow]Using the {Markup.Escape(dataset.Source)}: no full data set found. For the full set: {Core.Data.FashionMnistCatalog.InstallCommand}, or --data DIR.[/]");
        else
            console.MarkupLine($"Data: {Markup.Escape(dataset.Source)}");

        // One intra-op thread per libtorch call: workers give the parallelism, and the corrector's
        // thread CPU clock then sees all of a correction's work.
        TorchSharp.torch.set_num_threads(1);
        var experiment = new StalenessExperiment(options, dataset);
        int staleClients = experiment.Delayed.Count(x => x);
        console.MarkupLine(options.Devices is null
            ? string.Create(CultureInfo.InvariantCulture,
                $"{options.Clients} clients (one shard each), {options.ClientsPerRound} per round, {staleClients} holding class {options.StaleClass} stale by tau = {string.Join(", ", options.Taus)}; {options.Rounds} rounds; strategies: {string.Join(", ", options.Strategies)}")
            : string.Create(CultureInfo.InvariantCulture,
                $"{options.Clients} clients (one shard each), {options.Devices.Concurrency} training at once, K = {options.ClientsPerRound}, staleness from devices (speed sigma {options.Devices.SpeedSigma}, bandwidth sigma {options.Devices.BandwidthSigma}), window {string.Join(", ", options.Taus.Select(t => t + 1))}; {options.Rounds} rounds; strategies: {string.Join(", ", options.Strategies)}"));

        var outcomes = new List<StrategyOutcome>();
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var tasks = options.Taus.SelectMany(t => options.Strategies.Select(s => (Tau: t, Strategy: s, Task: context.AddTask($"tau {t} {s}", autoStart: false, maxValue: options.Rounds)))).ToList();
                foreach (var (tau, strategy, task) in tasks)
                {
                    task.StartTask();
                    outcomes.Add(experiment.Run(tau, strategy, new ProgressObserver(task, $"tau {tau} {strategy}")));
                    task.StopTask();
                }
            });

        var summary = StalenessReport.Write(outputDirectory, outcomes, Configuration(options, dataset.Source, staleClients), dataset.Source);
        var table = new Table().AddColumns("tau", "strategy", "final", "best", $"mean last {StalenessReport.TailRounds}", "stale", "fell back", "CPU s/correction (median, p90)", "err vs fresh (folded/stale)", "wall s");
        foreach (var run in summary["runs"]!.AsArray())
        {
            var cpu = run!["cpu_seconds_per_corrected_update"]!;
            table.AddRow(run["tau"]!.ToString(), run["strategy"]!.ToString(), Percent(run["final_accuracy"]), Percent(run["best_accuracy"]),
                Percent(run["mean_last_accuracy"]), run["stale_updates"]!.ToString(),
                string.Create(CultureInfo.InvariantCulture, $"{run["fell_back"]} ({(double)run["fall_back_rate"]! * 100:F0}%)"),
                string.Create(CultureInfo.InvariantCulture, $"{(double)cpu["median"]!:F3}, {(double)cpu["p90"]!:F3}"),
                run["folded_error_vs_fresh_median"] is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{(double)run["folded_error_vs_fresh_median"]!:F2} / {(double)run["stale_error_vs_fresh_median"]!:F2}"),
                string.Create(CultureInfo.InvariantCulture, $"{(double)run["wall_seconds"]!:F0}"));
        }
        console.Write(table);
        console.MarkupLine($"Wrote {Markup.Escape(Path.GetFullPath(outputDirectory))}");
        return 0;
    }

    private static string Percent(JsonNode? value) =>
        value is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{(double)value * 100:F2}%");

    private static JsonObject Configuration(StalenessExperimentOptions o, string source, int staleClients) => new()
    {
        ["setup"] = o.Devices is null
            ? "fixed delay (Wang and Gao 2023): clients holding stale_class always train from the model tau versions old"
            : "devices: staleness emerges from log-normal device speed and bandwidth in virtual time; window tau + 1",
        ["devices"] = o.Devices is null ? null : new JsonObject
        {
            ["median_samples_per_second"] = o.Devices.MedianSamplesPerSecond,
            ["speed_sigma"] = o.Devices.SpeedSigma,
            ["median_bytes_per_second"] = o.Devices.MedianBytesPerSecond,
            ["bandwidth_sigma"] = o.Devices.BandwidthSigma,
            ["concurrency"] = o.Devices.Concurrency,
        },
        ["clients"] = o.Clients,
        ["clients_per_round"] = o.ClientsPerRound,
        ["buffer_size"] = o.ClientsPerRound,
        ["partition"] = "shards(1): label-sorted, one shard per client",
        ["stale_class"] = o.StaleClass,
        ["stale_clients"] = staleClients,
        ["taus"] = new JsonArray(o.Taus.Select(t => (JsonNode)t).ToArray()),
        ["rounds"] = o.Rounds,
        ["strategies"] = new JsonArray(o.Strategies.Select(s => (JsonNode)s).ToArray()),
        ["local_epochs"] = o.LocalEpochs,
        ["batch"] = o.BatchSize,
        ["lr"] = o.LearningRate,
        ["seed"] = o.Seed,
        ["workers"] = o.Workers,
        ["torch_threads"] = 1,
        ["eval_every"] = o.EvaluateEvery,
        ["eval_samples"] = o.EvaluationSamples,
        ["poly_a"] = o.PolynomialExponent,
        ["hinge_a"] = o.HingeSlope,
        ["hinge_b"] = o.HingeThreshold,
        ["dc_lambda"] = o.DcLambda,
        ["inversion"] = new JsonObject
        {
            ["dummy_samples"] = o.Inversion.DummySamples,
            ["cold_start_iterations"] = o.Inversion.ColdStartIterations,
            ["warm_start_iterations"] = o.Inversion.WarmStartIterations,
            ["unrolled_steps_of_inversion_unrolled"] = o.UnrolledSteps,
            ["matching"] = o.Inversion.Matching.ToString().ToLowerInvariant(),
            ["form"] = o.Inversion.Form.ToString().ToLowerInvariant(),
            ["step_size"] = o.Inversion.StepSize,
            ["gate_threshold"] = o.GateThreshold,
            ["fallback"] = "fedasync-poly",
        },
        ["queue_capacity"] = o.QueueCapacity,
        ["codec"] = o.FedZip is null ? "none" : "fedzip",
        ["fedzip"] = o.FedZip is null ? null : new JsonObject { ["top_z"] = o.FedZip.TopZ, ["clusters"] = o.FedZip.Clusters, ["error_feedback"] = o.FedZip.ErrorFeedback },
        ["measure_against_fresh"] = o.MeasureAgainstFresh,
        ["data"] = source,
        ["model"] = "cnn(conv5x5x16, conv5x5x32, fc64, fc10)",
    };

    private sealed class ProgressObserver(ProgressTask task, string label) : IAsyncSimulationObserver
    {
        public void VersionPublished(VersionRecord record)
        {
            task.Increment(1);
            if (!double.IsNaN(record.Accuracy))
                task.Description = string.Create(CultureInfo.InvariantCulture, $"{label} (acc {record.Accuracy * 100:F1}%)");
        }
    }
}
