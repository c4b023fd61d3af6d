using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Offload.Cli.Experiments.Staleness;

/// <summary>
/// The fraction of the staleness gap each corrector recovers, over seeds: per seed and tau,
/// (its accuracy - the best weighting baseline's) / (the stale-free run's - the best weighting
/// baseline's), where the weighting baselines are <c>unweighted</c>, <c>fedasync-poly</c> and
/// <c>fedasync-hinge</c> (they change only weights) and the stale-free run is that seed's
/// <c>fresh</c> (any tau: it has no delay). Accuracy is the mean of the last evaluations
/// (<see cref="StalenessReport.TailRounds"/>), steadier than the last round; the final round's figure
/// is reported beside it. Reads the summary.json files <c>experiment staleness</c> wrote.
/// </summary>
public static class GapRecovered
{
    /// <summary>The baselines that only weight updates.</summary>
    public static IReadOnlyList<string> WeightingBaselines { get; } = ["unweighted", "fedasync-poly", "fedasync-hinge"];

    /// <summary>Header of gap.csv (one row per seed, tau and strategy).</summary>
    public const string CsvHeader = "seed,tau,strategy,mean_last_accuracy,final_accuracy,fresh_mean_last,best_weighting,best_weighting_mean_last,gap_recovered,gap_recovered_final,cpu_seconds_median";

    /// <summary>One run as read: its seed, tau, strategy, accuracies and correction cost.</summary>
    public sealed record Run(int Seed, int Tau, string Strategy, double MeanLast, double Final, double CpuMedian);

    /// <summary>Reads every run of the summary.json files in <paramref name="folders"/>.</summary>
    /// <exception cref="InvalidOptionException">A folder has no summary.json, or it is not a staleness experiment's.</exception>
    public static IReadOnlyList<Run> Read(IEnumerable<string> folders)
    {
        ArgumentNullException.ThrowIfNull(folders);
        var runs = new List<Run>();
        foreach (string folder in folders)
        {
            string path = Path.Combine(folder, "summary.json");
            if (!File.Exists(path)) throw new InvalidOptionException($"{path} does not exist: name folders `experiment staleness --out` wrote.");
            JsonNode? root;
            try
            {
                root = JsonNode.Parse(File.ReadAllText(path));
            }
            catch (JsonException e)
            {
                throw new InvalidOptionException($"{path} is not JSON: {e.Message}");
            }
            if (root?["experiment"]?.GetValue<string>() != "staleness" || root["runs"] is not JsonArray array || root["configuration"]?["seed"] is not JsonValue seed)
                throw new InvalidOptionException($"{path} is not the summary of `experiment staleness`.");
            foreach (var run in array)
                runs.Add(new Run(seed.GetValue<int>(), run!["tau"]!.GetValue<int>(), run["strategy"]!.GetValue<string>(),
                    Number(run["mean_last_accuracy"]), Number(run["final_accuracy"]), Number(run["cpu_seconds_per_corrected_update"]?["median"])));
        }
        return runs;
    }

    /// <summary>Writes gap.csv and summary.json (per tau and strategy: mean and standard deviation over seeds) and returns the summary.</summary>
    /// <exception cref="InvalidOptionException">A seed has no fresh run, or a (seed, tau) no weighting baseline.</exception>
    public static JsonObject Write(string directory, IReadOnlyList<Run> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var csv = new StringBuilder(CsvHeader).Append('\n');
        var rows = new List<(int Seed, int Tau, string Strategy, double Gap, double GapFinal, double Cpu)>();
        foreach (var group in runs.Where(r => r.Strategy != "fresh").GroupBy(r => (r.Seed, r.Tau)).OrderBy(g => g.Key.Tau).ThenBy(g => g.Key.Seed))
        {
            var fresh = runs.FirstOrDefault(r => r.Seed == group.Key.Seed && r.Strategy == "fresh")
                ?? throw new InvalidOptionException($"Seed {group.Key.Seed} has no 'fresh' run: the stale-free reference is needed.");
            var baselines = group.Where(r => WeightingBaselines.Contains(r.Strategy)).ToList();
            if (baselines.Count == 0) throw new InvalidOptionException($"Seed {group.Key.Seed}, tau {group.Key.Tau} has no weighting baseline ({string.Join(", ", WeightingBaselines)}).");
            var best = baselines.MaxBy(r => r.MeanLast)!;
            var bestFinal = baselines.Max(r => r.Final);
            foreach (var r in group)
            {
                double gap = (r.MeanLast - best.MeanLast) / (fresh.MeanLast - best.MeanLast);
                double gapFinal = (r.Final - bestFinal) / (fresh.Final - bestFinal);
                rows.Add((r.Seed, r.Tau, r.Strategy, gap, gapFinal, r.CpuMedian));
                csv.Append(CultureInfo.InvariantCulture,
                    $"{r.Seed},{r.Tau},{r.Strategy},{r.MeanLast:F4},{r.Final:F4},{fresh.MeanLast:F4},{best.Strategy},{best.MeanLast:F4},{gap:F4},{gapFinal:F4},{r.CpuMedian:F4}\n");
            }
        }
        var table = new JsonArray();
        foreach (var g in rows.GroupBy(r => (r.Tau, r.Strategy)).OrderBy(g => g.Key.Tau))
        {
            var gaps = g.Select(r => r.Gap).ToArray();
            var finals = g.Select(r => r.GapFinal).ToArray();
            table.Add(new JsonObject
            {
                ["tau"] = g.Key.Tau,
                ["strategy"] = g.Key.Strategy,
                ["seeds"] = new JsonArray(g.Select(r => (JsonNode)r.Seed).ToArray()),
                ["gap_recovered_mean"] = gaps.Average(),
                ["gap_recovered_std"] = Std(gaps),
                ["gap_recovered_final_mean"] = finals.Average(),
                ["gap_recovered_final_std"] = Std(finals),
                ["cpu_seconds_median"] = Reports.Median.Of(g.Select(r => r.Cpu)),
            });
        }
        var summary = new JsonObject
        {
            ["experiment"] = "staleness-gap",
            ["definition"] = "per seed and tau: (accuracy - best weighting baseline) / (fresh - best weighting baseline), accuracy = mean of the last evaluations; baselines: " + string.Join(", ", WeightingBaselines),
            ["table"] = table,
        };
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "gap.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(directory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return summary;
    }

    /// <summary>Sample standard deviation (n - 1); 0 for a single value.</summary>
    public static double Std(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count < 2) return 0;
        double mean = values.Average(), sum = 0;
        foreach (double v in values) sum += (v - mean) * (v - mean);
        return Math.Sqrt(sum / (values.Count - 1));
    }

    private static double Number(JsonNode? node) => node is JsonValue v && v.TryGetValue(out double d) ? d : double.NaN;
}
