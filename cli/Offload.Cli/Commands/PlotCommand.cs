using System.CommandLine;
using Offload.Cli.Reports;

namespace Offload.Cli.Commands;

/// <summary><c>offload plot accuracy-time --out DIR NAME=FOLDER...</c>: served runs' test accuracy against wall time.</summary>
public static class PlotCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder for accuracy-time.csv and accuracy-time.png.", DefaultValueFactory = _ => "runs/accuracy-time" };
        var title = new Option<string>("--title") { Description = "The plot's title.", DefaultValueFactory = _ => "Test accuracy against wall time" };
        var runs = new Argument<string[]>("runs") { Description = "NAME=FOLDER for each run (a folder `offload serve --out` wrote).", Arity = ArgumentArity.OneOrMore };
        var accuracyTime = new Command("accuracy-time", "Plot served runs' test accuracy against wall time, one line per run.") { output, title, runs };
        accuracyTime.SetAction(parsed =>
        {
            var named = new List<(string, string)>();
            foreach (string run in parsed.GetValue(runs)!)
            {
                int eq = run.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0 || eq == run.Length - 1) throw new InvalidOptionException($"Each run must be NAME=FOLDER (got '{run}').");
                named.Add((run[..eq], run[(eq + 1)..]));
            }
            string directory = parsed.GetValue(output)!;
            var read = AccuracyTimePlot.Write(directory, named, parsed.GetValue(title)!);
            foreach (var (name, points) in read)
                Console.WriteLine(points.Length == 0 ? $"{name}: no rounds" : string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"{name}: {points.Length} versions, {points[^1].Accuracy * 100:F2}% at {points[^1].Seconds:F1} s (best {points.Max(p => p.Accuracy) * 100:F2}%)"));
            Console.WriteLine($"Wrote {Path.GetFullPath(directory)}");
            return 0;
        });
        return new Command("plot", "Draw figures from runs already written.") { accuracyTime };
    }
}
