using System.Globalization;
using System.Text;

namespace Offload.Cli.Reports;

/// <summary>
/// Test accuracy against wall time for several served runs (each a <c>serve --out</c> folder's
/// <c>rounds.csv</c>): <c>accuracy-time.csv</c> (run, version, elapsed seconds, accuracy) and
/// <c>accuracy-time.png</c>, one line per run. What <c>scripts/async-clients.sh</c> draws for its correctors.
/// </summary>
public static class AccuracyTimePlot
{
    /// <summary>Header of accuracy-time.csv.</summary>
    public const string CsvHeader = "run,version,elapsed_seconds,accuracy";

    /// <summary>Reads each run's rounds.csv and writes the CSV and the plot into <paramref name="directory"/>; returns the rows per run.</summary>
    /// <exception cref="InvalidOptionException">A run's rounds.csv is missing, lacks the columns, or holds a value that is not a number.</exception>
    public static IReadOnlyDictionary<string, (double Seconds, double Accuracy)[]> Write(string directory, IReadOnlyList<(string Name, string Folder)> runs, string title)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var read = new Dictionary<string, (double, double)[]>(StringComparer.Ordinal);
        foreach (var (name, folder) in runs) read[name] = Read(Path.Combine(folder, "rounds.csv"));
        Directory.CreateDirectory(directory);
        var csv = new StringBuilder(CsvHeader).Append('\n');
        var plot = new ScottPlot.Plot();
        foreach (var (name, points) in read)
        {
            for (int i = 0; i < points.Length; i++)
                csv.Append(CultureInfo.InvariantCulture, $"{name},{i + 1},{points[i].Item1:F3},{points[i].Item2:F4}\n");
            var line = plot.Add.Scatter(points.Select(p => p.Item1).ToArray(), points.Select(p => p.Item2 * 100).ToArray());
            line.LegendText = name;
            line.MarkerSize = 4;
            line.LineWidth = name.StartsWith("inversion", StringComparison.Ordinal) ? 2.5f : 1.5f;
        }
        File.WriteAllText(Path.Combine(directory, "accuracy-time.csv"), csv.ToString());
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.Title(title);
        plot.XLabel("wall time since the gateway started (s)");
        plot.YLabel("test accuracy (%)");
        plot.Axes.SetLimitsY(0, 100);
        plot.SavePng(Path.Combine(directory, "accuracy-time.png"), 900, 560);
        return read;
    }

    private static (double, double)[] Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidOptionException($"{path} does not exist: name a folder `offload serve --out` wrote.");
        var lines = File.ReadAllLines(path);
        var header = lines.Length > 0 ? lines[0].Split(',') : [];
        int elapsed = Array.IndexOf(header, "elapsed_seconds"), accuracy = Array.IndexOf(header, "accuracy");
        if (elapsed < 0 || accuracy < 0) throw new InvalidOptionException($"{path} has no elapsed_seconds and accuracy columns.");
        var points = new List<(double, double)>();
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var cells = lines[i].Split(',');
            // A round kept from before a restart has no elapsed time: it is left out of a plot against time.
            if (cells.Length <= Math.Max(elapsed, accuracy) || cells[elapsed].Length == 0) continue;
            if (!double.TryParse(cells[elapsed], NumberStyles.Float, CultureInfo.InvariantCulture, out double t)
                || !double.TryParse(cells[accuracy], NumberStyles.Float, CultureInfo.InvariantCulture, out double a) || !double.IsFinite(t) || !double.IsFinite(a))
                throw new InvalidOptionException($"{path} line {i + 1}: elapsed_seconds and accuracy must be numbers (got '{lines[i]}').");
            points.Add((t, a));
        }
        return [.. points];
    }
}
