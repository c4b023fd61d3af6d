using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Cli.Options;
using Offload.Cli.Reports;
using Offload.Cli.Simulation;
using Offload.Core.Codec;
using Spectre.Console;

namespace Offload.Cli.Experiments;

/// <summary>
/// <c>offload experiment compression</c>: FedAvg with FedZip uploads at several top-z, with and
/// without error feedback, beside the uncompressed run with the same seed, partitions and rounds,
/// all in one command. Reports the compression ratio (raw float32 bytes / bytes sent) for the auto
/// encoding actually sent and for each fixed encoding, Brotli and GZip of the raw updates as the
/// general-purpose baseline, and the accuracy of every run.
/// </summary>
public static class CompressionExperiment
{
    /// <summary>Builds the subcommand.</summary>
    public static Command Create()
    {
        var clients = new Option<int>("--clients") { Description = "Simulated clients.", DefaultValueFactory = _ => 20 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds per run.", DefaultValueFactory = _ => 10 };
        var alpha = new Option<double>("--alpha") { Description = "Dirichlet concentration of the label skew.", DefaultValueFactory = _ => 0.5 };
        var topZ = new Option<string>("--topz") { Description = "Comma-separated top-z values.", DefaultValueFactory = _ => "0.1,0.01,0.001" };
        var clusters = new Option<int>("--clusters") { Description = "FedZip centroids.", DefaultValueFactory = _ => FedZipOptions.Default.Clusters };
        var denseThreshold = new Option<int>("--dense-threshold") { Description = "Tensors smaller than this go dense (0: sparsify all, needed for ratios past ~200x on the 47k-parameter CNN).", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed shared by every run.", DefaultValueFactory = _ => 42 };
        var data = new Option<string?>("--data") { Description = "Data folder or 'bundled' (default: search, else bundled)." };
        var output = new Option<string>("--out") { Description = "Output folder.", DefaultValueFactory = _ => "runs/compression" };
        var command = new Command("compression", "FedZip compression ratio and accuracy against uncompressed FedAvg, Brotli and GZip.")
        {
            clients, rounds, alpha, topZ, clusters, denseThreshold, seed, data, output,
        };
        command.SetAction(parsed =>
        {
            var baseline = new SimulationOptions
            {
                Clients = parsed.GetValue(clients),
                Rounds = parsed.GetValue(rounds),
                Partition = PartitionKind.Dirichlet,
                Alpha = parsed.GetValue(alpha),
                Seed = parsed.GetValue(seed),
            }.Validate();
            var zs = ParseList(parsed.GetValue(topZ)!);
            var template = CodecOptions.Parse("fedzip", zs[0], parsed.GetValue(clusters), "auto", "on", parsed.GetValue(denseThreshold))!;
            return Run(baseline, template, zs, parsed.GetValue(data), parsed.GetValue(output)!);
        });
        return command;
    }

    /// <summary>Parses "0.1,0.01" into validated top-z values.</summary>
    /// <exception cref="InvalidOptionException">An entry is not a number in (0, 1].</exception>
    public static double[] ParseList(string text) =>
        OptionList.Parse<double>(text, "--topz", z => z > 0 && z <= 1, "a fraction in (0, 1]");

    private static int Run(SimulationOptions baseline, FedZipOptions template, double[] zs, string? dataDirectory, string outputDirectory)
    {
        var console = AnsiConsole.Console;
        var dataset = DataOption.AnnouncedData(console, dataDirectory, baseline.Clients);
        var partitions = ClientPartitions.Create(dataset.Train, baseline);
        var plans = new List<(string Name, SimulationOptions Options)> { ("uncompressed", baseline) };
        foreach (double z in zs)
            foreach (bool feedback in new[] { true, false })
            {
                var fedZip = template with { TopZ = z, ErrorFeedback = feedback };
                plans.Add(($"fedzip-z{z.ToString(CultureInfo.InvariantCulture)}-{(feedback ? "ef" : "noef")}", baseline with { FedZip = fedZip }));
            }

        var runs = new List<CompressionRun>();
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var overall = context.AddTask("runs", maxValue: plans.Count);
                foreach (var (name, options) in plans)
                {
                    var task = context.AddTask(name, maxValue: options.Rounds);
                    using var simulation = FederatedSimulation.OnImages(options, dataset, partitions);
                    var tap = new EncodingSizeTap(simulation.Layout, options.FedZip);
                    simulation.Tap = tap;
                    var result = simulation.Run(new RoundTicker(task));
                    RunReport.Write(Path.Combine(outputDirectory, name), result, options.ToJson(dataset.Source), dataset.Source);
                    long sent = 0;
                    foreach (var r in result.Rounds) sent += r.BytesUp;
                    runs.Add(new CompressionRun(name, options.FedZip?.TopZ, options.FedZip?.ErrorFeedback ?? false,
                        result.FinalAccuracy, result.BestAccuracy, tap.RawBytes, sent, tap.EncodingBytes, result.WallSeconds));
                    overall.Increment(1);
                }
            });

        Directory.CreateDirectory(outputDirectory);
        File.WriteAllText(Path.Combine(outputDirectory, "compression.csv"), Csv(runs));
        var summary = Summary(runs, baseline, template, dataset.Source);
        File.WriteAllText(Path.Combine(outputDirectory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        CompressionPlot.Save(Path.Combine(outputDirectory, "accuracy-vs-ratio.png"), runs);

        var table = new Table().AddColumns("run", "final acc", "Δ vs raw (pts)", "ratio (auto)", "huffman", "positions", "gaps", "brotli", "gzip");
        double reference = runs[0].FinalAccuracy;
        foreach (var run in runs)
        {
            table.AddRow(run.Name, Pct(run.FinalAccuracy), ((run.FinalAccuracy - reference) * 100).ToString("+0.00;-0.00", CultureInfo.InvariantCulture),
                X(run.Ratio), X(run.RatioOf("huffman")), X(run.RatioOf("positions")), X(run.RatioOf("gaps")), X(run.RatioOf("brotli")), X(run.RatioOf("gzip")));
        }
        console.Write(table);
        console.MarkupLine($"Wrote {Markup.Escape(Path.GetFullPath(outputDirectory))}");
        return 0;
    }

    private static string Pct(double v) => (v * 100).ToString("F2", CultureInfo.InvariantCulture) + "%";

    private static string X(double v) => double.IsNaN(v) ? "-" : v.ToString("F1", CultureInfo.InvariantCulture) + "x";

    /// <summary>One row per run: accuracy, bytes and the ratio of every encoding.</summary>
    public static string Csv(IReadOnlyList<CompressionRun> runs)
    {
        var csv = new StringBuilder("run,topz,error_feedback,final_accuracy,best_accuracy,delta_points,raw_bytes_up,bytes_up,ratio_auto,ratio_huffman,ratio_positions,ratio_gaps,ratio_brotli,ratio_gzip,wall_seconds\n");
        double reference = runs.Count == 0 ? 0 : runs[0].FinalAccuracy;
        foreach (var r in runs)
        {
            csv.Append(CultureInfo.InvariantCulture,
                $"{r.Name},{(r.TopZ is { } z ? z.ToString(CultureInfo.InvariantCulture) : "")},{(r.TopZ is null ? "" : r.ErrorFeedback ? "on" : "off")},{r.FinalAccuracy:F4},{r.BestAccuracy:F4},{(r.FinalAccuracy - reference) * 100:F2},{r.RawBytesUp},{r.BytesUp},{r.Ratio:F2},");
            csv.Append(CultureInfo.InvariantCulture,
                $"{Ratio(r, "huffman")},{Ratio(r, "positions")},{Ratio(r, "gaps")},{Ratio(r, "brotli")},{Ratio(r, "gzip")},{r.WallSeconds:F1}\n");
        }
        return csv.ToString();
    }

    private static string Ratio(CompressionRun run, string alternative)
    {
        double v = run.RatioOf(alternative);
        return double.IsNaN(v) ? "" : v.ToString("F2", CultureInfo.InvariantCulture);
    }

    private static JsonObject Summary(IReadOnlyList<CompressionRun> runs, SimulationOptions baseline, FedZipOptions template, string source)
    {
        var rows = new JsonArray();
        double reference = runs[0].FinalAccuracy;
        foreach (var r in runs)
        {
            var alternatives = new JsonObject();
            foreach (var (name, bytes) in r.EncodingBytes) alternatives[name] = new JsonObject { ["bytes"] = bytes, ["ratio"] = r.RatioOf(name) };
            rows.Add(new JsonObject
            {
                ["run"] = r.Name,
                ["topz"] = r.TopZ,
                ["error_feedback"] = r.TopZ is null ? null : r.ErrorFeedback,
                ["final_accuracy"] = r.FinalAccuracy,
                ["best_accuracy"] = r.BestAccuracy,
                ["delta_points_vs_uncompressed"] = (r.FinalAccuracy - reference) * 100,
                ["raw_bytes_up"] = r.RawBytesUp,
                ["bytes_up"] = r.BytesUp,
                ["ratio"] = r.Ratio,
                ["alternatives"] = alternatives,
                ["wall_seconds"] = r.WallSeconds,
            });
        }
        return new JsonObject
        {
            ["experiment"] = "compression",
            ["data"] = source,
            ["configuration"] = baseline.ToJson(source),
            ["fedzip"] = new JsonObject
            {
                ["clusters"] = template.Clusters,
                ["dense_threshold"] = template.DenseThreshold,
                ["encoding_sent"] = "auto",
            },
            ["runs"] = rows,
        };
    }
}
