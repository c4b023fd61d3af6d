using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Cli.Simulation;

namespace Offload.Cli.Reports;

/// <summary>
/// Writes a simulation's artefacts into its output folder: <c>rounds.csv</c>, <c>summary.json</c>
/// and <c>accuracy.png</c>. Numbers use the invariant culture so files read the same everywhere.
/// </summary>
public static class RunReport
{
    /// <summary>The CSV header; columns after <c>seconds</c> split the round's time.</summary>
    public const string CsvHeader = "round,accuracy,loss,bytes_up,bytes_down,seconds,train_seconds,aggregate_seconds,evaluate_seconds,clients,rejected,train_loss";

    /// <summary>Writes all three files and returns the summary that went into summary.json.</summary>
    public static JsonObject Write(string directory, SimulationResult result, JsonObject configuration, string dataSource)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "rounds.csv"), Csv(result.Rounds));
        var summary = Summary(result, configuration, dataSource);
        File.WriteAllText(Path.Combine(directory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        AccuracyPlot.Save(Path.Combine(directory, "accuracy.png"), result.Rounds);
        return summary;
    }

    /// <summary>The columns a run placed on nodes (<c>simulate --nodes</c>) adds after <see cref="CsvHeader"/>'s.</summary>
    public const string PlacementColumns = "planned_local_fraction,round_robin_local_fraction,planned_cross_bytes,round_robin_cross_bytes";

    /// <summary>The rounds as CSV text with <see cref="CsvHeader"/> (and <see cref="PlacementColumns"/> when the rounds were placed on nodes).</summary>
    public static string Csv(IReadOnlyList<RoundRecord> rounds)
    {
        bool placed = false;
        foreach (var r in rounds) placed |= r.Placement is not null;
        var csv = new StringBuilder(CsvHeader).Append(placed ? "," + PlacementColumns : "").Append('\n');
        foreach (var r in rounds)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{r.Round},{r.Accuracy:F4},{r.Loss:F4},{r.BytesUp},{r.BytesDown},{r.Seconds:F3},")
               .Append(CultureInfo.InvariantCulture, $"{r.TrainSeconds:F3},{r.AggregateSeconds:F4},{r.EvaluateSeconds:F3},{r.Clients},{r.Rejected},{r.TrainLoss:F4}");
            if (placed)
            {
                var p = r.Placement;
                csv.Append(CultureInfo.InvariantCulture, $",{p?.PlannedLocal:F4},{p?.RoundRobinLocal:F4},{p?.PlannedCrossBytes},{p?.RoundRobinCrossBytes}");
            }
            csv.Append('\n');
        }
        return csv.ToString();
    }

    /// <summary>Final and best accuracy, totals, wall time, time split, peak memory and the configuration.</summary>
    public static JsonObject Summary(SimulationResult result, JsonObject configuration, string dataSource)
    {
        long up = 0, down = 0;
        double train = 0, aggregate = 0, evaluate = 0;
        foreach (var r in result.Rounds)
        {
            up += r.BytesUp;
            down += r.BytesDown;
            train += r.TrainSeconds;
            aggregate += r.AggregateSeconds;
            evaluate += r.EvaluateSeconds;
        }
        return new JsonObject
        {
            ["final_accuracy"] = result.FinalAccuracy,
            ["best_accuracy"] = result.BestAccuracy,
            ["rounds"] = result.Rounds.Count,
            ["total_bytes_up"] = up,
            ["total_bytes_down"] = down,
            ["wall_seconds"] = result.WallSeconds,
            ["train_seconds"] = train,
            ["aggregate_seconds"] = aggregate,
            ["evaluate_seconds"] = evaluate,
            ["peak_working_set_bytes"] = result.PeakWorkingSetBytes,
            ["data"] = dataSource,
            ["machine"] = new JsonObject
            {
                ["cores"] = Environment.ProcessorCount,
                ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            },
            ["configuration"] = configuration,
            ["placement"] = PlacementSummary(result.Rounds),
        };
    }

    /// <summary>Totals and medians over the rounds placed on nodes, or null when none was.</summary>
    private static JsonObject? PlacementSummary(IReadOnlyList<RoundRecord> rounds)
    {
        var planned = new List<double>();
        var roundRobin = new List<double>();
        long plannedCross = 0, roundRobinCross = 0;
        int overcommitted = 0;
        foreach (var r in rounds)
        {
            if (r.Placement is not { } p) continue;
            planned.Add(p.PlannedLocal);
            roundRobin.Add(p.RoundRobinLocal);
            plannedCross += p.PlannedCrossBytes;
            roundRobinCross += p.RoundRobinCrossBytes;
            overcommitted = Math.Max(overcommitted, p.Overcommitted);
        }
        if (planned.Count == 0) return null;
        return new JsonObject
        {
            ["planned_local_fraction_median"] = Median.Of(planned),
            ["round_robin_local_fraction_median"] = Median.Of(roundRobin),
            ["planned_cross_bytes"] = plannedCross,
            ["round_robin_cross_bytes"] = roundRobinCross,
            ["cross_bytes_ratio"] = roundRobinCross == 0 ? null : (double)plannedCross / roundRobinCross,
            ["max_overcommitted"] = overcommitted,
        };
    }

}
