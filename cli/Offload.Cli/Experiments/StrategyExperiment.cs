using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Aggregator.Strategies;
using Offload.Cli.Options;
using Offload.Cli.Reports;
using Offload.Cli.Simulation;
using Spectre.Console;

namespace Offload.Cli.Experiments;

/// <summary>
/// <c>offload experiment strategies</c>: every strategy on the same seeded Dirichlet splits, same
/// clients, rounds and local training, so the curves differ only by the algorithm. Reports the final
/// accuracy and the first round that reaches the target accuracy, per strategy and alpha.
/// </summary>
public static class StrategyExperiment
{
    /// <summary>The strategies run when none are named: every synchronous one in the catalogue with its defaults.</summary>
    public const string DefaultStrategies = "fedavg;fedavgm;fedprox;fedadagrad;fedadam;fedyogi;median;trimmedmean;krum;multikrum";

    /// <summary>Builds the subcommand.</summary>
    public static Command Create()
    {
        var strategies = new Option<string>("--strategies") { Description = "Strategies to compare, separated by ';' (each NAME[:key=value,...]).", DefaultValueFactory = _ => DefaultStrategies };
        var alphas = new Option<string>("--alphas") { Description = "Comma-separated Dirichlet concentrations.", DefaultValueFactory = _ => "0.1,0.5" };
        var clients = new Option<int>("--clients") { Description = "Simulated clients (all train every round).", DefaultValueFactory = _ => 20 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds per run.", DefaultValueFactory = _ => 30 };
        var target = new Option<double>("--target") { Description = "Accuracy whose first round is reported, in (0, 1).", DefaultValueFactory = _ => 0.8 };
        var seed = new Option<int>("--seed") { Description = "Seed shared by every run.", DefaultValueFactory = _ => 42 };
        var data = new Option<string?>("--data") { Description = "Data folder or 'bundled' (default: search, else bundled)." };
        var output = new Option<string>("--out") { Description = "Output folder.", DefaultValueFactory = _ => "runs/strategies" };
        var command = new Command("strategies", "Every strategy on the same Dirichlet splits: final accuracy and the round each first reaches the target.")
        {
            strategies, alphas, clients, rounds, target, seed, data, output,
        };
        command.SetAction(parsed =>
        {
            var chosen = ParseStrategies(parsed.GetValue(strategies)!);
            var alphaList = OptionList.Parse<double>(parsed.GetValue(alphas)!, "--alphas", a => a > 0 && double.IsFinite(a), "a positive number");
            double goal = parsed.GetValue(target);
            if (!(goal > 0 && goal < 1)) throw new InvalidOptionException($"--target must be in (0, 1) (got {goal}).");
            var baseline = new SimulationOptions
            {
                Clients = parsed.GetValue(clients),
                Rounds = parsed.GetValue(rounds),
                Partition = PartitionKind.Dirichlet,
                Seed = parsed.GetValue(seed),
            }.Validate();
            return Run(baseline, chosen, alphaList, goal, parsed.GetValue(data), parsed.GetValue(output)!);
        });
        return command;
    }

    /// <summary>Parses a ';'-separated list of strategy specifications.</summary>
    /// <exception cref="InvalidOptionException">An entry is not a strategy, or the list is empty.</exception>
    public static AggregationStrategy[] ParseStrategies(string text)
    {
        var parts = text.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new InvalidOptionException("--strategies names no strategy.");
        return Array.ConvertAll(parts, StrategyOption.Parse);
    }

    private static int Run(SimulationOptions baseline, AggregationStrategy[] strategies, double[] alphas, double target, string? dataDirectory, string outputDirectory)
    {
        var console = AnsiConsole.Console;
        var dataset = DataOption.AnnouncedData(console, dataDirectory, baseline.Clients);
        var plans = new List<StudyPlan>();
        foreach (double alpha in alphas)
            foreach (var strategy in strategies)
                plans.Add(new StudyPlan($"a{alpha.ToString(CultureInfo.InvariantCulture)}-{Slug(strategy.Name)}", baseline with { Alpha = alpha, Strategy = strategy }));
        var runs = StudyRunner.Run(console, dataset, plans, outputDirectory);

        Directory.CreateDirectory(outputDirectory);
        File.WriteAllText(Path.Combine(outputDirectory, "strategies.csv"), Csv(runs, target));
        foreach (double alpha in alphas)
            StrategyPlot.Save(Path.Combine(outputDirectory, $"accuracy-alpha-{alpha.ToString(CultureInfo.InvariantCulture)}.png"),
                $"Test accuracy per round, {baseline.Clients} clients, Dirichlet alpha {alpha.ToString(CultureInfo.InvariantCulture)}", runs.Where(r => r.Alpha == alpha));
        var summary = new JsonObject
        {
            ["experiment"] = "strategies",
            ["configuration"] = baseline.ToJson(dataset.Source),
            ["target_accuracy"] = target,
            ["runs"] = new JsonArray(runs.Select(r => (JsonNode)r.ToJson(target)).ToArray()),
            ["goal"] = Goal(runs, alphas.Min()),
        };
        File.WriteAllText(Path.Combine(outputDirectory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        var table = new Table().AddColumns("alpha", "strategy", "final acc", "best acc", $"first round >= {target * 100:F0}%", "seconds");
        foreach (var r in runs)
            table.AddRow(r.Alpha.ToString(CultureInfo.InvariantCulture), Markup.Escape(r.Strategy), Pct(r.FinalAccuracy), Pct(r.BestAccuracy),
                r.FirstRoundReaching(target)?.ToString(CultureInfo.InvariantCulture) ?? "-", r.WallSeconds.ToString("F0", CultureInfo.InvariantCulture));
        console.Write(table);
        console.MarkupLine($"Wrote {Markup.Escape(Path.GetFullPath(outputDirectory))}");
        return 0;
    }

    /// <summary>The goal: the round at which the best adaptive optimiser first reaches FedAvg's final accuracy at the smallest alpha.</summary>
    private static JsonObject Goal(IReadOnlyList<StrategyRun> runs, double alpha)
    {
        var fedAvg = runs.FirstOrDefault(r => r.Alpha == alpha && r.Strategy == "fedavg");
        if (fedAvg is null) return new JsonObject { ["note"] = "no fedavg run to compare with" };
        StrategyRun? best = null;
        int? bestRound = null;
        foreach (var r in runs)
        {
            if (r.Alpha != alpha || !(r.Strategy.StartsWith("fedadam", StringComparison.Ordinal) || r.Strategy.StartsWith("fedyogi", StringComparison.Ordinal) || r.Strategy.StartsWith("fedadagrad", StringComparison.Ordinal))) continue;
            int? round = r.FirstRoundReaching(fedAvg.FinalAccuracy);
            if (round is not null && (bestRound is null || round < bestRound)) (best, bestRound) = (r, round);
        }
        return new JsonObject
        {
            ["alpha"] = alpha,
            ["fedavg_final_accuracy"] = fedAvg.FinalAccuracy,
            ["fedavg_rounds"] = fedAvg.Accuracy.Count,
            ["best_adaptive"] = best?.Strategy,
            ["best_adaptive_round_reaching_fedavg_final"] = bestRound,
        };
    }

    /// <summary>One row per run.</summary>
    public static string Csv(IReadOnlyList<StrategyRun> runs, double target)
    {
        var csv = new StringBuilder("name,strategy,alpha,attack,final_accuracy,best_accuracy,first_round_reaching_target,wall_seconds\n");
        foreach (var r in runs)
            csv.Append(CultureInfo.InvariantCulture,
                $"{r.Name},\"{r.Strategy}\",{r.Alpha},{r.Attack},{r.FinalAccuracy:F4},{r.BestAccuracy:F4},{r.FirstRoundReaching(target)?.ToString(CultureInfo.InvariantCulture) ?? ""},{r.WallSeconds:F1}\n");
        return csv.ToString();
    }

    /// <summary>A folder name for a strategy: its name with ':' ',' '=' turned into '-' and '_'.</summary>
    public static string Slug(string name) => name.Replace(':', '-').Replace(',', '-').Replace('=', '_');

    private static string Pct(double v) => (v * 100).ToString("F2", CultureInfo.InvariantCulture) + "%";
}
