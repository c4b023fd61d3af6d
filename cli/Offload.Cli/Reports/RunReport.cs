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

    /// <summary>The rounds as CSV text with <see cref="CsvHeader"/>.</summary>
    public static string Csv(IReadOnlyList<RoundRecord> rounds)
    {
        var csv = new StringBuilder(CsvHeader).Append('\n');
        foreach (var r in rounds)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{r.Round},{r.Accuracy:F4},{r.Loss:F4},{r.BytesUp},{r.BytesDown},{r.Seconds:F3},")
               .Append(CultureInfo.InvariantCulture, $"{r.TrainSeconds:F3},{r.AggregateSeconds:F4},{r.EvaluateSeconds:F3},{r.Clients},{r.Rejected},{r.TrainLoss:F4}\n");
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
        };
    }
}
