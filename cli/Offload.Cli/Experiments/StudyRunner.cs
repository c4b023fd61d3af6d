using Offload.Cli.Reports;
using Offload.Cli.Simulation;
using Offload.Core.Data;
using Spectre.Console;

namespace Offload.Cli.Experiments;

/// <summary>Runs a study's plans one after another with a progress bar each, writing every run's own report under the study's folder.</summary>
public static class StudyRunner
{
    /// <summary>Runs <paramref name="plans"/> on <paramref name="dataset"/>; the runs in plan order.</summary>
    /// <param name="console">Where progress goes.</param>
    /// <param name="dataset">The data every run shares.</param>
    /// <param name="plans">The runs.</param>
    /// <param name="outputDirectory">Each run writes rounds.csv, summary.json and accuracy.png under a folder of its name here.</param>
    /// <param name="tap">Gives a run an update tap (a study that measures the updates), or null.</param>
    public static IReadOnlyList<StrategyRun> Run(IAnsiConsole console, TrainTestDataset dataset, IReadOnlyList<StudyPlan> plans, string outputDirectory,
        Func<StudyPlan, IUpdateTap?>? tap = null)
    {
        var partitions = new Dictionary<(PartitionKind Kind, double Alpha, int Clients, int Seed), IReadOnlyList<Partition>>();
        var runs = new List<StrategyRun>();
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var overall = context.AddTask("runs", maxValue: plans.Count);
                foreach (var plan in plans)
                {
                    var o = plan.Options;
                    var key = (o.Partition, o.Alpha, o.Clients, o.Seed);
                    if (!partitions.TryGetValue(key, out var split)) partitions[key] = split = ClientPartitions.Create(dataset.Train, o);
                    var task = context.AddTask(Markup.Escape(plan.Name), maxValue: o.Rounds);
                    using var simulation = FederatedSimulation.OnImages(o, dataset, split, tap?.Invoke(plan));
                    simulation.Attack = plan.Attack;
                    var result = simulation.Run(new RoundTicker(task));
                    var configuration = o.ToJson(dataset.Source);
                    configuration["attack"] = plan.AttackName;
                    RunReport.Write(Path.Combine(outputDirectory, plan.Name), result, configuration, dataset.Source);
                    runs.Add(new StrategyRun(plan.Name, o.Strategy.Name, o.Alpha, plan.AttackName, result.Rounds.Select(r => r.Accuracy).ToArray(), result.WallSeconds));
                    overall.Increment(1);
                }
            });
        return runs;
    }
}
