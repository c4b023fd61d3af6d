using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Aggregator.Staleness;

namespace Offload.Cli.Experiments.Staleness;

/// <summary>
/// Writes the staleness experiment's artefacts: <c>accuracy.csv</c> (one row per strategy and
/// round), <c>corrections.csv</c> (one row per stale update), <c>summary.json</c> and one
/// <c>accuracy-tau{N}.png</c> per staleness with a line per strategy. Numbers use the invariant culture.
/// </summary>
public static class StalenessReport
{
    /// <summary>Header of accuracy.csv.</summary>
    public const string AccuracyHeader = "tau,strategy,round,accuracy,loss,folded,stale,corrected,weighted,fell_back,mean_staleness,max_staleness,seconds";

    /// <summary>Header of corrections.csv.</summary>
    public const string CorrectionsHeader = "tau,strategy,round,client,staleness,outcome,cpu_seconds,wall_seconds,relative_error,folded_error_vs_fresh,stale_error_vs_fresh";

    /// <summary>Rounds at the end averaged into <c>mean_last_accuracy</c>, which is steadier than the last round alone.</summary>
    public const int TailRounds = 10;

    /// <summary>Writes every file and returns the summary written to summary.json.</summary>
    public static JsonObject Write(string directory, IReadOnlyList<StrategyOutcome> outcomes, JsonObject configuration, string dataSource)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "accuracy.csv"), AccuracyCsv(outcomes));
        File.WriteAllText(Path.Combine(directory, "corrections.csv"), CorrectionsCsv(outcomes));
        var summary = Summary(outcomes, configuration, dataSource);
        File.WriteAllText(Path.Combine(directory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        foreach (var group in outcomes.GroupBy(o => o.Tau))
            StalenessPlot.Save(Path.Combine(directory, $"accuracy-tau{group.Key}.png"), group.ToList(),
                $"Fashion-MNIST, class-{configuration["stale_class"]} clients stale by tau = {group.Key}");
        return summary;
    }

    /// <summary>accuracy.csv as text; rounds that were not evaluated have empty accuracy and loss.</summary>
    public static string AccuracyCsv(IReadOnlyList<StrategyOutcome> outcomes)
    {
        var csv = new StringBuilder(AccuracyHeader).Append('\n');
        foreach (var o in outcomes)
            foreach (var v in o.Result.Versions)
                csv.Append(CultureInfo.InvariantCulture,
                    $"{o.Tau},{o.Strategy},{v.Version},{Number(v.Accuracy, "F4")},{Number(v.Loss, "F4")},{v.Folded},{v.Stale},{v.Corrected},{v.Weighted},{v.FellBack},{v.MeanStaleness:F2},{v.MaxStaleness},{v.Seconds:F3}\n");
        return csv.ToString();
    }

    /// <summary>corrections.csv as text.</summary>
    public static string CorrectionsCsv(IReadOnlyList<StrategyOutcome> outcomes)
    {
        var csv = new StringBuilder(CorrectionsHeader).Append('\n');
        foreach (var o in outcomes)
            foreach (var c in o.Result.Corrections)
                csv.Append(CultureInfo.InvariantCulture,
                    $"{o.Tau},{o.Strategy},{c.Version},{c.Client},{c.Staleness},{c.Outcome.ToString().ToLowerInvariant()},{c.CpuSeconds:F4},{c.WallSeconds:F4},{Optional(c.RelativeError)},{Optional(c.FoldedErrorVsFresh)},{Optional(c.StaleErrorVsFresh)}\n");
        return csv.ToString();
    }

    /// <summary>Per (tau, strategy): accuracy (final, best, mean of the last rounds), correction counts and costs, memory.</summary>
    public static JsonObject Summary(IReadOnlyList<StrategyOutcome> outcomes, JsonObject configuration, string dataSource)
    {
        var runs = new JsonArray();
        foreach (var o in outcomes)
        {
            var r = o.Result;
            var evaluated = r.Versions.Where(v => !double.IsNaN(v.Accuracy)).ToList();
            var tail = evaluated.TakeLast(TailRounds).Select(v => v.Accuracy).DefaultIfEmpty(double.NaN).Average();
            var cpu = CostSummary.Of(r.Corrections.Select(c => c.CpuSeconds));
            var wall = CostSummary.Of(r.Corrections.Select(c => c.WallSeconds));
            runs.Add(new JsonObject
            {
                ["tau"] = o.Tau,
                ["strategy"] = o.Strategy,
                ["final_accuracy"] = Json(r.FinalAccuracy),
                ["best_accuracy"] = Json(r.BestAccuracy),
                ["mean_last_accuracy"] = Json(tail),
                ["mean_last_rounds"] = Math.Min(TailRounds, evaluated.Count),
                ["rounds"] = r.Versions.Count,
                ["stale_updates"] = r.Corrections.Count,
                ["corrected"] = r.Corrections.Count(c => c.Outcome == CorrectionOutcome.Corrected),
                ["weighted"] = r.Corrections.Count(c => c.Outcome == CorrectionOutcome.Weighted),
                ["fell_back"] = r.Corrections.Count(c => c.Outcome == CorrectionOutcome.FellBack),
                ["fall_back_rate"] = o.FallBackRate,
                ["cpu_seconds_per_corrected_update"] = Costs(cpu),
                ["folded_error_vs_fresh_median"] = Median(r.Corrections.Select(c => c.FoldedErrorVsFresh)),
                ["stale_error_vs_fresh_median"] = Median(r.Corrections.Select(c => c.StaleErrorVsFresh)),
                ["wall_seconds_per_corrected_update"] = Costs(wall),
                ["wall_seconds"] = r.WallSeconds,
                ["history_window"] = r.HistoryWindow,
                ["history_peak_bytes"] = r.HistoryPeakBytes,
                ["warm_start_bytes"] = o.WarmStartBytes,
                ["dropped"] = r.Dropped,
            });
        }
        return new JsonObject
        {
            ["experiment"] = "staleness",
            ["data"] = dataSource,
            ["runs"] = runs,
            ["machine"] = new JsonObject
            {
                ["cores"] = Environment.ProcessorCount,
                ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            },
            ["configuration"] = configuration,
        };
    }

    private static JsonObject Costs(CostSummary c) => new()
    {
        ["count"] = c.Count,
        ["median"] = c.Median,
        ["p90"] = c.P90,
        ["mean"] = c.Mean,
        ["max"] = c.Max,
    };

    private static JsonNode? Median(IEnumerable<double?> values)
    {
        var present = values.Where(v => v is not null).Select(v => v!.Value).ToList();
        return present.Count == 0 ? null : JsonValue.Create(CostSummary.Of(present).Median);
    }

    private static JsonNode? Json(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;

    private static string Optional(double? value) => value is double v ? v.ToString("F4", CultureInfo.InvariantCulture) : "";

    private static string Number(double value, string format) => double.IsNaN(value) ? "" : value.ToString(format, CultureInfo.InvariantCulture);
}
