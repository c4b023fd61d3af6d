using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Aggregator.Asynchronous;

namespace Offload.Cli.Serving;

/// <summary>Writes <c>rounds.csv</c> and <c>summary.json</c> for a served federation, in the invariant culture.</summary>
public static class ServeReport
{
    /// <summary>The CSV header.</summary>
    public const string CsvHeader = "round,version,accuracy,loss,updates,rejected,samples,bytes_up,seconds,aggregate_seconds,closed_by,client_accuracy,client_loss,client_examples,update_norm,step_norm,elapsed_seconds";

    /// <summary>Writes both files and returns the summary.</summary>
    /// <param name="asynchronous">With <c>--mode async</c>: what was done with stale updates (per outcome and per device), else null.</param>
    public static JsonObject Write(string directory, IReadOnlyList<ServedRound> rounds, JsonObject configuration, JsonObject gateway, double wallSeconds,
        JsonObject? asynchronous = null)
    {
        Directory.CreateDirectory(directory);
        var csv = new StringBuilder(CsvHeader).Append('\n');
        foreach (var r in rounds)
        {
            var s = r.Summary;
            csv.Append(CultureInfo.InvariantCulture,
                $"{s.Round},{s.Version.Value},{r.Accuracy:F4},{r.Loss:F4},{s.Updates},{s.Rejected},{s.SampleCount},{s.PayloadBytes},{s.Seconds:F3},{s.AggregateSeconds:F4},{(s.ClosedByDeadline ? "deadline" : asynchronous is null ? "quorum" : "buffer")},");
            var e = s.Evaluation;
            csv.Append(CultureInfo.InvariantCulture, $"{e?.Accuracy:F4},{e?.Loss:F4},{e?.Examples},{s.Step.UpdateNorm:G6},{s.Step.StepNorm:G6},{(double.IsNaN(r.ElapsedSeconds) ? "" : r.ElapsedSeconds.ToString("F3", CultureInfo.InvariantCulture))}\n");
        }
        File.WriteAllText(Path.Combine(directory, "rounds.csv"), csv.ToString());
        long updates = 0, bytes = 0;
        foreach (var r in rounds)
        {
            updates += r.Summary.Updates;
            bytes += r.Summary.PayloadBytes;
        }
        var summary = new JsonObject
        {
            ["final_accuracy"] = rounds.Count == 0 ? 0 : rounds[^1].Accuracy,
            ["best_accuracy"] = rounds.Count == 0 ? 0 : rounds.Max(r => r.Accuracy),
            ["rounds"] = rounds.Count,
            ["updates"] = updates,
            ["total_bytes_up"] = bytes,
            ["wall_seconds"] = wallSeconds,
            ["peak_working_set_bytes"] = System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64,
            ["gateway"] = gateway,
            ["asynchronous"] = asynchronous,
            ["machine"] = new JsonObject
            {
                ["cores"] = Environment.ProcessorCount,
                ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            },
            ["configuration"] = configuration,
        };
        File.WriteAllText(Path.Combine(directory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return summary;
    }

    /// <summary>The <c>asynchronous</c> block of summary.json: the corrector, updates per outcome, staleness, correction costs, the window, per device.</summary>
    public static JsonObject Asynchronous(AsynchronousStatistics statistics, AsynchronousOptions options)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ArgumentNullException.ThrowIfNull(options);
        var outcomes = new JsonObject();
        foreach (var outcome in Enum.GetValues<StalenessOutcome>())
            outcomes[Snake(outcome.ToString())] = statistics.Outcomes.GetValueOrDefault(outcome);
        var devices = new JsonArray();
        foreach (var c in statistics.ByClient)
            devices.Add(new JsonObject
            {
                ["client"] = c.ClientId,
                ["updates"] = c.Updates,
                ["stale"] = c.Stale,
                ["corrected"] = c.Corrected,
                ["fell_back"] = c.FellBack,
                ["max_staleness"] = c.MaxStaleness,
            });
        var cpu = statistics.CorrectionCpuSeconds;
        return new JsonObject
        {
            ["corrector"] = statistics.Corrector,
            ["fallback"] = statistics.Fallback,
            ["buffer_size"] = options.BufferSize,
            ["concurrency"] = options.Concurrency,
            ["outcomes"] = outcomes,
            ["max_staleness"] = statistics.MaxStaleness,
            ["mean_staleness"] = statistics.MeanStaleness,
            ["corrections_run"] = cpu.Count,
            ["correction_cpu_seconds_median"] = cpu.Count == 0 ? null : Reports.Median.Of(cpu),
            ["correction_cpu_seconds_max"] = cpu.Count == 0 ? null : cpu.Max(),
            ["correction_queue_seconds_median"] = statistics.CorrectionQueueSeconds.Count == 0 ? null : Reports.Median.Of(statistics.CorrectionQueueSeconds),
            ["correction_queue_capacity"] = options.CorrectionQueueCapacity,
            ["correct_from"] = options.CorrectFrom,
            ["history_window"] = statistics.HistoryWindow,
            ["history_peak_bytes"] = statistics.HistoryPeakBytes,
            ["ignored_events"] = statistics.Ignored,
            ["devices"] = devices,
        };
    }

    private static string Snake(string name) => string.Concat(name.Select((ch, i) => char.IsUpper(ch) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(ch) : ch.ToString()));
}
