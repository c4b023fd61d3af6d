using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Aggregator.Strategies;
using Offload.Cli.Options;
using Offload.Cli.Reports;
using Offload.Cli.Simulation;
using Spectre.Console;

namespace Offload.Cli.Experiments;

/// <summary>
/// <c>offload experiment byzantine</c>: the honest FedAvg run, then each attack (a client that sends
/// its update times -10; one that sends Gaussian noise of 100 times its honest norm) against FedAvg
/// and every defence, all on the same seeded split. A defence written <c>NAME:clip=auto</c> clips at the
/// median norm of the honest run's client updates, measured in this run of the command.
/// </summary>
public static class ByzantineExperiment
{
    /// <summary>The defences run when none are named.</summary>
    public const string DefaultDefences = "median;trimmedmean;krum;multikrum;fedavg:clip=auto";

    /// <summary>The attacks run when none are named.</summary>
    public const string DefaultAttacks = "scale:-10;noise:100";

    /// <summary>Builds the subcommand.</summary>
    public static Command Create()
    {
        var defences = new Option<string>("--defences") { Description = "Strategies to defend with, separated by ';' (clip=auto: the honest median update norm).", DefaultValueFactory = _ => DefaultDefences };
        var attacks = new Option<string>("--attacks") { Description = "Attacks, separated by ';': scale:FACTOR | noise:MULTIPLE.", DefaultValueFactory = _ => DefaultAttacks };
        var attackers = new Option<int>("--attackers") { Description = "Byzantine clients (clients 0 to N-1).", DefaultValueFactory = _ => 1 };
        var clients = new Option<int>("--clients") { Description = "Simulated clients (all train every round).", DefaultValueFactory = _ => 10 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds per run.", DefaultValueFactory = _ => 20 };
        var partition = new Option<string>("--partition") { Description = "iid | dirichlet | shards.", DefaultValueFactory = _ => "iid" };
        var alpha = new Option<double>("--alpha") { Description = "Dirichlet concentration (with --partition dirichlet).", DefaultValueFactory = _ => 0.5 };
        var seed = new Option<int>("--seed") { Description = "Seed shared by every run.", DefaultValueFactory = _ => 42 };
        var data = new Option<string?>("--data") { Description = "Data folder or 'bundled' (default: search, else bundled)." };
        var output = new Option<string>("--out") { Description = "Output folder.", DefaultValueFactory = _ => "runs/byzantine" };
        var command = new Command("byzantine", "FedAvg and the robust defences against a scaling and a noise attack, beside the honest run.")
        {
            defences, attacks, attackers, clients, rounds, partition, alpha, seed, data, output,
        };
        command.SetAction(parsed =>
        {
            var baseline = new SimulationOptions
            {
                Clients = parsed.GetValue(clients),
                Rounds = parsed.GetValue(rounds),
                Partition = SimulationOptions.ParsePartition(parsed.GetValue(partition)!),
                Alpha = parsed.GetValue(alpha),
                Seed = parsed.GetValue(seed),
            }.Validate();
            int f = parsed.GetValue(attackers);
            if (f < 1 || f >= baseline.Clients) throw new InvalidOptionException($"--attackers must be 1 to {baseline.Clients - 1} (got {f}).");
            var defenceList = parsed.GetValue(defences)!.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (var d in defenceList) StrategyOption.Parse(d.Replace("clip=auto", "clip=1", StringComparison.Ordinal)); // Fail before any run.
            var attackList = ParseAttacks(parsed.GetValue(attacks)!, f, baseline.Seed);
            return Run(baseline, defenceList, attackList, parsed.GetValue(data), parsed.GetValue(output)!);
        });
        return command;
    }

    /// <summary>Parses "scale:-10;noise:100" for clients 0 to <paramref name="attackers"/>-1.</summary>
    /// <exception cref="InvalidOptionException">An entry is not scale:FACTOR or noise:MULTIPLE.</exception>
    public static (string Name, ByzantineClients Clients)[] ParseAttacks(string text, int attackers, int seed)
    {
        var ids = Enumerable.Range(0, attackers).ToArray();
        var parts = text.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new InvalidOptionException("--attacks names no attack.");
        return Array.ConvertAll(parts, part =>
        {
            var bits = part.Split(':');
            if (bits.Length == 2 && double.TryParse(bits[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value))
            {
                if (bits[0] == "scale") return (part, ByzantineClients.Scaled(ids, value));
                if (bits[0] == "noise" && value > 0) return (part, ByzantineClients.Noise(ids, value, seed));
            }
            throw new InvalidOptionException($"--attacks: '{part}' is not scale:FACTOR or noise:MULTIPLE (a positive multiple).");
        });
    }

    private static int Run(SimulationOptions baseline, string[] defences, (string Name, ByzantineClients Clients)[] attacks, string? dataDirectory, string outputDirectory)
    {
        var console = AnsiConsole.Console;
        var dataset = DataOption.AnnouncedData(console, dataDirectory, baseline.Clients);
        var norms = new UpdateNormTap();
        var honest = StudyRunner.Run(console, dataset, [new StudyPlan("honest-fedavg", baseline)], outputDirectory, tap: _ => norms)[0];
        double clip = norms.MedianNorm;
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"Honest FedAvg: {honest.FinalAccuracy * 100:F2}%; median client update norm {clip:G4} (clip=auto)."));

        var plans = new List<StudyPlan>();
        foreach (var (attackName, clients) in attacks)
        {
            plans.Add(new StudyPlan($"{Slug(attackName)}-fedavg", baseline, clients, attackName));
            foreach (var defence in defences)
            {
                var strategy = StrategyOption.Parse(defence.Replace("clip=auto", "clip=" + clip.ToString("R", CultureInfo.InvariantCulture), StringComparison.Ordinal));
                plans.Add(new StudyPlan($"{Slug(attackName)}-{StrategyExperiment.Slug(strategy.Name)}", baseline with { Strategy = strategy }, clients, attackName));
            }
        }
        var runs = new List<StrategyRun> { honest };
        runs.AddRange(StudyRunner.Run(console, dataset, plans, outputDirectory));

        Directory.CreateDirectory(outputDirectory);
        double target = honest.FinalAccuracy - 0.02;
        File.WriteAllText(Path.Combine(outputDirectory, "byzantine.csv"), StrategyExperiment.Csv(runs, target));
        foreach (var (attackName, _) in attacks)
            StrategyPlot.Save(Path.Combine(outputDirectory, $"accuracy-{Slug(attackName)}.png"), $"Test accuracy per round, {baseline.Clients} clients, attack {attackName}",
                runs.Where(r => r.Attack == attackName || r == honest));
        var rows = new JsonArray();
        foreach (var r in runs)
        {
            var row = r.ToJson(target);
            row["points_from_honest"] = (r.FinalAccuracy - honest.FinalAccuracy) * 100;
            row["within_2_points"] = r.FinalAccuracy >= target;
            rows.Add(row);
        }
        var summary = new JsonObject
        {
            ["experiment"] = "byzantine",
            ["configuration"] = baseline.ToJson(dataset.Source),
            ["attackers"] = attacks.Length == 0 ? 0 : Enumerable.Range(0, baseline.Clients).Count(attacks[0].Clients.Attacks),
            ["clip_auto_norm"] = clip,
            ["honest_final_accuracy"] = honest.FinalAccuracy,
            ["runs"] = rows,
        };
        File.WriteAllText(Path.Combine(outputDirectory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        var table = new Table().AddColumns("attack", "strategy", "final acc", "points from honest");
        foreach (var r in runs)
            table.AddRow(r.Attack, Markup.Escape(r.Strategy), (r.FinalAccuracy * 100).ToString("F2", CultureInfo.InvariantCulture) + "%",
                ((r.FinalAccuracy - honest.FinalAccuracy) * 100).ToString("+0.00;-0.00", CultureInfo.InvariantCulture));
        console.Write(table);
        console.MarkupLine($"Wrote {Markup.Escape(Path.GetFullPath(outputDirectory))}");
        return 0;
    }

    private static string Slug(string attack) => attack.Replace(':', '-');
}
