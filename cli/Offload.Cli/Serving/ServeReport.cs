using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Offload.Cli.Serving;

/// <summary>Writes <c>rounds.csv</c> and <c>summary.json</c> for a served federation, in the invariant culture.</summary>
public static class ServeReport
{
    /// <summary>The CSV header.</summary>
    public const string CsvHeader = "round,version,accuracy,loss,updates,rejected,samples,bytes_up,seconds,aggregate_seconds,closed_by,client_accuracy,client_loss,client_examples,update_norm,step_norm";

    /// <summary>Writes both files and returns the summary.</summary>
    public static JsonObject Write(string directory, IReadOnlyList<ServedRound> rounds, JsonObject configuration, JsonObject gateway, double wallSeconds)
    {
        Directory.CreateDirectory(directory);
        var csv = new StringBuilder(CsvHeader).Append('\n');
        foreach (var r in rounds)
        {
            var s = r.Summary;
            csv.Append(CultureInfo.InvariantCulture,
                $"{s.Round},{s.Version.Value},{r.Accuracy:F4},{r.Loss:F4},{s.Updates},{s.Rejected},{s.SampleCount},{s.PayloadBytes},{s.Seconds:F3},{s.AggregateSeconds:F4},{(s.ClosedByDeadline ? "deadline" : "quorum")},");
            var e = s.Evaluation;
            csv.Append(CultureInfo.InvariantCulture, $"{e?.Accuracy:F4},{e?.Loss:F4},{e?.Examples},{s.Step.UpdateNorm:G6},{s.Step.StepNorm:G6}\n");
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
}
