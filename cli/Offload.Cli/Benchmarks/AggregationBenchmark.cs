using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Aggregator.Accumulation;
using Offload.Aggregator.Hierarchy;
using Offload.Aggregator.Strategies;
using Offload.Cli.Options;
using Offload.Core.Codec;
using Offload.Core.Model;
using Spectre.Console;

namespace Offload.Cli.Benchmarks;

/// <summary>
/// <c>offload bench aggregation</c>: the time to aggregate one round of N encoded updates, flat (one
/// accumulator, which serialises every fold) against the leaf/middle/top tree (leaves fold in
/// parallel on the available cores), in one process, with the planner's choice of tree recorded.
/// Payloads are real FedZip encodings of seeded N(0, 0.01^2) updates; a pool of distinct payloads
/// is reused round-robin, since folding cost depends on the payload's size, not its values.
/// </summary>
public static class AggregationBenchmark
{
    /// <summary>Builds the subcommand.</summary>
    public static Command Create()
    {
        var updates = new Option<string>("--updates") { Description = "Comma-separated update counts per round.", DefaultValueFactory = _ => "100,1000,10000" };
        var parameters = new Option<int>("--parameters") { Description = "Model parameters per update.", DefaultValueFactory = _ => 1_000_000 };
        var topZ = new Option<double>("--topz") { Description = "FedZip top-z of the updates (1 = identity codec, dense).", DefaultValueFactory = _ => 0.01 };
        var fanIn = new Option<int>("--fan-in") { Description = "Fan-in bound given to the tree planner.", DefaultValueFactory = _ => 100 };
        var repeats = new Option<int>("--repeats") { Description = "Rounds timed per configuration (the median is reported).", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads") { Description = "Threads folding into the tree.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var output = new Option<string>("--out") { Description = "Output folder.", DefaultValueFactory = _ => "runs/bench-aggregation" };
        var command = new Command("aggregation", "Aggregation time per round, flat against hierarchical, for several update counts.")
        {
            updates, parameters, topZ, fanIn, repeats, threads, output,
        };
        command.SetAction(parsed =>
        {
            int p = parsed.GetValue(parameters), f = parsed.GetValue(fanIn), r = parsed.GetValue(repeats), t = parsed.GetValue(threads);
            double z = parsed.GetValue(topZ);
            if (p < 1) throw new InvalidOptionException($"--parameters must be at least 1 (got {p}).");
            if (f < 2) throw new InvalidOptionException($"--fan-in must be at least 2 (got {f}).");
            if (r < 1) throw new InvalidOptionException($"--repeats must be at least 1 (got {r}).");
            if (t < 1) throw new InvalidOptionException($"--threads must be at least 1 (got {t}).");
            if (!(z > 0 && z <= 1)) throw new InvalidOptionException($"--topz must be in (0, 1] (got {z}).");
            var counts = ParseCounts(parsed.GetValue(updates)!);
            return Run(counts, p, z, f, r, t, parsed.GetValue(output)!);
        });
        return command;
    }

    /// <summary>Parses "100,1000" into positive counts.</summary>
    /// <exception cref="InvalidOptionException">An entry is not a positive integer.</exception>
    public static int[] ParseCounts(string text) =>
        OptionList.Parse<int>(text, "--updates", n => n >= 1, "a positive count");

    /// <summary>One measured configuration.</summary>
    public sealed record Measurement(int Updates, string Mode, double MedianSeconds, double MinSeconds, string Plan, int PeakAccumulators);

    /// <summary>Times flat and hierarchical aggregation for every count; returns the rows.</summary>
    public static IReadOnlyList<Measurement> Measure(int[] counts, int parameters, double topZ, int fanIn, int repeats, int threads, Action<string>? progress = null)
    {
        // A layout shaped like a small model: a few large matrices and their biases.
        int big = parameters / 4;
        var layout = TensorLayout.Create(new[]
        {
            ("layer1.weight", new[] { big }), ("layer1.bias", new[] { 256 }),
            ("layer2.weight", new[] { big }), ("layer2.bias", new[] { 256 }),
            ("layer3.weight", new[] { parameters - 2 * big - 512 }),
        });
        IUpdateCodec codec = topZ >= 1 ? IdentityCodec.Instance : new FedZipCodec(new FedZipOptions { TopZ = topZ });
        var payloads = new byte[Math.Min(64, counts.Max())][];
        var random = new Random(7);
        var update = new float[layout.TotalLength];
        for (int i = 0; i < payloads.Length; i++)
        {
            for (int j = 0; j < update.Length; j++) update[j] = (float)(random.NextDouble() - 0.5) * 0.02f;
            payloads[i] = codec.Encode(update, layout);
        }
        var global = new float[layout.TotalLength];
        var strategy = new FedAvg();
        var rows = new List<Measurement>();
        foreach (int n in counts)
        {
            progress?.Invoke($"{n} updates: flat");
            var flat = Time(repeats, () =>
            {
                using var acc = new UpdateAccumulator(layout);
                for (int k = 0; k < n; k++) acc.AddEncoded(codec, payloads[k % payloads.Length], 1 + k % 7);
                var mean = new float[layout.TotalLength];
                acc.MeanInto(mean);
                strategy.Aggregate(mean, n, global, strategy.InitialState());
                return 1;
            });
            rows.Add(new Measurement(n, "flat", flat.Median, flat.Min, "1 accumulator", flat.Peak));

            var plan = TreePlanner.Plan(n, fanIn);
            foreach (int t in threads > 1 ? new[] { 1, threads } : new[] { 1 })
            {
                progress?.Invoke($"{n} updates: tree, {t} thread(s)");
                var tree = Time(repeats, () =>
                {
                    using var round = new AggregationTree(layout, plan, 1);
                    // Each leaf is one function instance folding its own arrivals; leaves run concurrently.
                    int leaves = plan.AggregatorsPerLevel[0], perLeaf = plan.FanInPerLevel[0];
                    Parallel.For(0, leaves, new ParallelOptions { MaxDegreeOfParallelism = t }, leaf =>
                    {
                        for (int k = leaf * perLeaf; k < Math.Min(n, (leaf + 1) * perLeaf); k++)
                            round.FoldEncoded(k, $"u{k}", codec, payloads[k % payloads.Length], 1 + k % 7);
                    });
                    round.Publish(strategy, global, strategy.InitialState());
                    return round.PeakLiveAggregators;
                });
                rows.Add(new Measurement(n, $"tree-{t}t", tree.Median, tree.Min, plan.ToString(), tree.Peak));
            }
        }
        return rows;
    }

    private static (double Median, double Min, int Peak) Time(int repeats, Func<int> round)
    {
        round(); // Warm-up: JIT, pools.
        var seconds = new double[repeats];
        int peak = 0;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            peak = Math.Max(peak, round());
            seconds[i] = clock.Elapsed.TotalSeconds;
        }
        Array.Sort(seconds);
        return (seconds[repeats / 2], seconds[0], peak);
    }

    private static int Run(int[] counts, int parameters, double topZ, int fanIn, int repeats, int threads, string outputDirectory)
    {
        var console = AnsiConsole.Console;
        IReadOnlyList<Measurement> rows = null!;
        console.Status().Start("measuring", context => rows = Measure(counts, parameters, topZ, fanIn, repeats, threads, s => context.Status(s)));
        Directory.CreateDirectory(outputDirectory);
        var csv = new StringBuilder("updates,mode,median_seconds,min_seconds,peak_accumulators,plan\n");
        var table = new Table().AddColumns("updates", "mode", "median s", "vs flat", "peak accumulators", "tree");
        var json = new JsonArray();
        foreach (var r in rows)
        {
            double flat = rows.First(x => x.Updates == r.Updates && x.Mode == "flat").MedianSeconds;
            csv.Append(CultureInfo.InvariantCulture, $"{r.Updates},{r.Mode},{r.MedianSeconds:F5},{r.MinSeconds:F5},{r.PeakAccumulators},\"{r.Plan}\"\n");
            table.AddRow(r.Updates.ToString(CultureInfo.InvariantCulture), r.Mode, r.MedianSeconds.ToString("F4", CultureInfo.InvariantCulture),
                (flat / r.MedianSeconds).ToString("F2", CultureInfo.InvariantCulture) + "x", r.PeakAccumulators.ToString(CultureInfo.InvariantCulture), Markup.Escape(r.Plan));
            json.Add(new JsonObject
            {
                ["updates"] = r.Updates, ["mode"] = r.Mode, ["median_seconds"] = r.MedianSeconds, ["min_seconds"] = r.MinSeconds,
                ["speedup_vs_flat"] = flat / r.MedianSeconds, ["peak_accumulators"] = r.PeakAccumulators, ["plan"] = r.Plan,
            });
        }
        File.WriteAllText(Path.Combine(outputDirectory, "aggregation.csv"), csv.ToString());
        var summary = new JsonObject
        {
            ["benchmark"] = "aggregation",
            ["parameters"] = parameters,
            ["codec"] = topZ >= 1 ? "identity" : $"fedzip z={topZ.ToString(CultureInfo.InvariantCulture)}",
            ["fan_in_bound"] = fanIn,
            ["repeats"] = repeats,
            ["threads"] = threads,
            ["cores"] = Environment.ProcessorCount,
            ["rows"] = json,
        };
        File.WriteAllText(Path.Combine(outputDirectory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        console.Write(table);
        console.MarkupLine($"Wrote {Markup.Escape(Path.GetFullPath(outputDirectory))}");
        return 0;
    }
}
