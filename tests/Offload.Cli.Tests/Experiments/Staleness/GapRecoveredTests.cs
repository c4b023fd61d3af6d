using System.Text.Json.Nodes;
using Offload.Cli.Experiments.Staleness;

namespace Offload.Cli.Tests.Experiments.Staleness;

public class GapRecoveredTests
{
    private static GapRecovered.Run R(int seed, int tau, string strategy, double meanLast, double cpu = 0) => new(seed, tau, strategy, meanLast, meanLast, cpu);

    [Fact]
    public void The_gap_is_measured_from_the_best_weighting_baseline_to_the_fresh_run_per_seed_then_averaged()
    {
        var runs = new[]
        {
            R(1, 40, "fresh", 0.60), R(1, 40, "unweighted", 0.40), R(1, 40, "fedasync-poly", 0.50), R(1, 40, "fedasync-hinge", 0.45), R(1, 40, "inversion", 0.58, 0.3),
            R(2, 40, "fresh", 0.70), R(2, 40, "unweighted", 0.50), R(2, 40, "fedasync-poly", 0.55), R(2, 40, "fedasync-hinge", 0.60), R(2, 40, "inversion", 0.65, 0.5),
        };
        var root = Directory.CreateTempSubdirectory("offload-gap-");
        try
        {
            var summary = GapRecovered.Write(root.FullName, runs);
            var inversion = summary["table"]!.AsArray().Single(r => r!["strategy"]!.GetValue<string>() == "inversion")!;
            // Seed 1: (0.58 - 0.50) / (0.60 - 0.50) = 0.8; seed 2: (0.65 - 0.60) / (0.70 - 0.60) = 0.5.
            Assert.Equal(0.65, inversion["gap_recovered_mean"]!.GetValue<double>(), 9);
            Assert.Equal(GapRecovered.Std([0.8, 0.5]), inversion["gap_recovered_std"]!.GetValue<double>(), 9);
            Assert.Equal(0.4, inversion["cpu_seconds_median"]!.GetValue<double>(), 9);
            var poly = summary["table"]!.AsArray().Single(r => r!["strategy"]!.GetValue<string>() == "fedasync-poly")!;
            Assert.Equal((0 + (0.55 - 0.60) / 0.10) / 2, poly["gap_recovered_mean"]!.GetValue<double>(), 9);
            Assert.Contains("1,40,inversion,0.5800,0.5800,0.6000,fedasync-poly,0.5000,0.8000", File.ReadAllText(Path.Combine(root.FullName, "gap.csv")));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public void Runs_without_a_reference_or_a_summary_are_refused_with_what_is_missing()
    {
        Assert.Contains("fresh", Assert.Throws<InvalidOptionException>(() => GapRecovered.Write(Path.GetTempPath(), [R(3, 10, "inversion", 0.5), R(3, 10, "unweighted", 0.4)])).Message);
        Assert.Contains("weighting baseline", Assert.Throws<InvalidOptionException>(() => GapRecovered.Write(Path.GetTempPath(), [R(3, 10, "fresh", 0.5), R(3, 10, "inversion", 0.4)])).Message);
        var root = Directory.CreateTempSubdirectory("offload-gap-");
        try
        {
            Assert.Contains("does not exist", Assert.Throws<InvalidOptionException>(() => GapRecovered.Read([root.FullName])).Message);
            File.WriteAllText(Path.Combine(root.FullName, "summary.json"), new JsonObject { ["experiment"] = "compression" }.ToJsonString());
            Assert.Contains("not the summary", Assert.Throws<InvalidOptionException>(() => GapRecovered.Read([root.FullName])).Message);
            File.WriteAllText(Path.Combine(root.FullName, "summary.json"), "{ not json");
            Assert.Contains("not JSON", Assert.Throws<InvalidOptionException>(() => GapRecovered.Read([root.FullName])).Message);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
