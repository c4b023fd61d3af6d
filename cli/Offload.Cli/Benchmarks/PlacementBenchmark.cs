using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Aggregator.Placement;
using Offload.Cli.Options;
using Offload.Cli.Reports;
using Offload.Cli.Simulation;

namespace Offload.Cli.Benchmarks;

/// <summary>
/// <c>offload bench placement</c>: the locality-aware <see cref="PlacementPlanner"/> against LIFL's
/// round-robin pairing on simulated clusters. Each configuration draws nodes (cores 4 to 32, load 0 to
/// 0.6) and the devices' landing nodes from a Zipf law over the nodes (a few gateway replicas take most
/// devices), then places one round both ways and counts the update bytes that stay on their node, and
/// times the planner.
/// </summary>
public static class PlacementBenchmark
{
    /// <summary>Builds <c>offload bench placement</c>.</summary>
    public static Command Create()
    {
        var nodes = new Option<string>("--nodes") { Description = "Cluster sizes, comma-separated.", DefaultValueFactory = _ => "4,16,64" };
        var clients = new Option<string>("--clients") { Description = "Updates per round, comma-separated.", DefaultValueFactory = _ => "100,1000,10000" };
        var fanIn = new Option<int>("--fan-in") { Description = "The most inputs one aggregator takes.", DefaultValueFactory = _ => 10 };
        var skew = new Option<double>("--skew") { Description = "Zipf exponent of devices over nodes (0: even).", DefaultValueFactory = _ => 1.0 };
        var update = new Option<double>("--update-mb") { Description = "MiB of one (compressed) update.", DefaultValueFactory = _ => 1.0 };
        var partial = new Option<double>("--partial-mb") { Description = "MiB of one partial aggregate (the dense model).", DefaultValueFactory = _ => 45.0 };
        var perCore = new Option<int>("--per-core") { Description = "Aggregators one free core runs.", DefaultValueFactory = _ => 4 };
        var seed = new Option<int>("--seed") { Description = "Seed of the clusters and arrival orders.", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out") { Description = "Output folder for summary.json, placement.csv and placement.png.", DefaultValueFactory = _ => "runs/bench-placement" };
        var command = new Command("placement", "Locality-aware aggregator placement against round-robin pairing: bytes that stay on their node, and the planner's time.")
        {
            nodes, clients, fanIn, skew, update, partial, perCore, seed, output,
        };
        command.SetAction(parsed =>
        {
            int[] sizes = OptionList.Parse<int>(parsed.GetValue(nodes)!, "--nodes", n => n is >= 1 and <= 4096, "a node count in 1..4096");
            int[] rounds = OptionList.Parse<int>(parsed.GetValue(clients)!, "--clients", n => n is >= 1 and <= 10_000_000, "an update count in 1..10,000,000");
            int f = parsed.GetValue(fanIn);
            if (f is < 2 or > 100_000) throw new InvalidOptionException($"--fan-in must be in 2..100000 (got {f}).");
            double s = parsed.GetValue(skew);
            if (!(s >= 0 && s <= 10)) throw new InvalidOptionException($"--skew must be in 0..10 (got {s}).");
            long updateBytes = Megabytes(parsed.GetValue(update), "--update-mb");
            long partialBytes = Megabytes(parsed.GetValue(partial), "--partial-mb");
            int cores = parsed.GetValue(perCore);
            if (cores is < 1 or > 1024) throw new InvalidOptionException($"--per-core must be in 1..1024 (got {cores}).");
            int baseSeed = parsed.GetValue(seed);
            string directory = parsed.GetValue(output)!;
            Directory.CreateDirectory(directory);

            var c = CultureInfo.InvariantCulture;
            var rows = new List<PlacementRow>();
            Console.Out.WriteLine(string.Create(c, $"Placement: fan-in {f}, Zipf skew {s}, updates {updateBytes} B, partials {partialBytes} B, {cores} aggregators per free core"));
            foreach (int n in sizes)
                foreach (int k in rounds)
                {
                    // Not HashCode.Combine: its seed changes with every process, and a run must be repeatable.
                    var random = new Random(unchecked(baseSeed * 1_000_003 + n * 7_919 + k));
                    var cluster = SimulatedCluster.Nodes(random, n);
                    var demand = new PlacementDemand(SimulatedCluster.CountPerNode(SimulatedCluster.Landings(random, n, k, s), n), updateBytes, partialBytes, f) { AggregatorsPerCore = cores };
                    var planned = PlacementPlanner.Plan(cluster, demand);
                    var baseline = PlacementPlanner.RoundRobin(cluster, demand, random.Next());
                    double milliseconds = TimePlanner(cluster, demand);
                    var row = new PlacementRow(n, k, planned.LocalFraction, baseline.LocalFraction, planned.CrossNodeBytes, baseline.CrossNodeBytes,
                        milliseconds, planned.Aggregators.Count, baseline.Aggregators.Count, planned.Overcommitted);
                    rows.Add(row);
                    Console.Out.WriteLine(string.Create(c,
                        $"{n,3} nodes, {k,6} updates: local {row.PlannedLocal:P1} planned, {row.RoundRobinLocal:P1} round-robin; cross-node {row.PlannedCross / 1048576.0:F0} against {row.RoundRobinCross / 1048576.0:F0} MiB; planner {row.PlannerMilliseconds:F3} ms; {row.PlannedAggregators} aggregators{(row.Overcommitted > 0 ? $", {row.Overcommitted} over capacity" : "")}"));
                }

            var csv = new StringBuilder("nodes,updates,planned_local_fraction,round_robin_local_fraction,planned_cross_bytes,round_robin_cross_bytes,planner_ms,planned_aggregators,round_robin_aggregators,overcommitted\n");
            foreach (var r in rows)
                csv.Append(c, $"{r.Nodes},{r.Updates},{r.PlannedLocal:R},{r.RoundRobinLocal:R},{r.PlannedCross},{r.RoundRobinCross},{r.PlannerMilliseconds:R},{r.PlannedAggregators},{r.RoundRobinAggregators},{r.Overcommitted}\n");
            File.WriteAllText(Path.Combine(directory, "placement.csv"), csv.ToString());
            PlacementPlot.Save(Path.Combine(directory, "placement.png"), rows);
            var summary = new JsonObject
            {
                ["benchmark"] = "placement",
                ["fan_in"] = f,
                ["skew"] = s,
                ["update_bytes"] = updateBytes,
                ["partial_bytes"] = partialBytes,
                ["aggregators_per_core"] = cores,
                ["seed"] = baseSeed,
                ["rows"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonObject
                {
                    ["nodes"] = r.Nodes,
                    ["updates"] = r.Updates,
                    ["planned_local_fraction"] = r.PlannedLocal,
                    ["round_robin_local_fraction"] = r.RoundRobinLocal,
                    ["planned_cross_bytes"] = r.PlannedCross,
                    ["round_robin_cross_bytes"] = r.RoundRobinCross,
                    ["planner_ms_median"] = r.PlannerMilliseconds,
                    ["planned_aggregators"] = r.PlannedAggregators,
                    ["round_robin_aggregators"] = r.RoundRobinAggregators,
                    ["overcommitted"] = r.Overcommitted,
                })]),
                ["machine"] = new JsonObject { ["cores"] = Environment.ProcessorCount, ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription },
            };
            File.WriteAllText(Path.Combine(directory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Console.Out.WriteLine($"wrote {Path.GetFullPath(Path.Combine(directory, "summary.json"))}, placement.csv and placement.png");
            return 0;
        });
        return command;
    }

    private static long Megabytes(double value, string option) =>
        value is > 0 and <= 1 << 20 ? (long)Math.Round(value * 1024 * 1024) : throw new InvalidOptionException($"{option} must be in (0, 1048576] MiB (got {value}).");

    /// <summary>The planner's median time over 21 runs, after 3 to warm the JIT.</summary>
    private static double TimePlanner(PlacementNode[] cluster, PlacementDemand demand)
    {
        for (int i = 0; i < 3; i++) PlacementPlanner.Plan(cluster, demand);
        var times = new double[21];
        for (int i = 0; i < times.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            PlacementPlanner.Plan(cluster, demand);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[times.Length / 2];
    }
}
