using System.CommandLine;
using System.Globalization;
using Offload.Cli.Experiments.Staleness;

namespace Offload.Cli.Commands;

/// <summary><c>offload experiment staleness-gap --out DIR FOLDER...</c>: the gap each corrector recovers, over the seeds of several staleness runs.</summary>
public static class StalenessGapCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder for gap.csv and summary.json.", DefaultValueFactory = _ => "runs/staleness-gap" };
        var folders = new Argument<string[]>("runs") { Description = "Folders `experiment staleness --out` wrote (any seeds and taus; each seed needs a 'fresh' run).", Arity = ArgumentArity.OneOrMore };
        var command = new Command("staleness-gap", "The fraction of the staleness gap (best weighting baseline to the stale-free run) each corrector recovers, mean and std over seeds.") { output, folders };
        command.SetAction(parsed =>
        {
            var summary = GapRecovered.Write(parsed.GetValue(output)!, GapRecovered.Read(parsed.GetValue(folders)!));
            foreach (var row in summary["table"]!.AsArray())
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"tau {row!["tau"],3} {row["strategy"],-20} gap recovered {row["gap_recovered_mean"]!.GetValue<double>() * 100,7:F1}% +- {row["gap_recovered_std"]!.GetValue<double>() * 100,5:F1} (final round {row["gap_recovered_final_mean"]!.GetValue<double>() * 100,7:F1}% +- {row["gap_recovered_final_std"]!.GetValue<double>() * 100,5:F1}) over {row["seeds"]!.AsArray().Count} seeds, {row["cpu_seconds_median"]!.GetValue<double>():F3} CPU s per correction"));
            Console.WriteLine($"Wrote {Path.GetFullPath(parsed.GetValue(output)!)}");
            return 0;
        });
        return command;
    }
}
