using System.Text.Json;
using Offload.Cli.Commands;
using Offload.Cli.Experiments.Staleness;

namespace Offload.Cli.Tests.Experiments.Staleness;

[Collection(ConsoleCommands.Name)]
public class StalenessExperimentCommandTests
{
    private static (int Code, string Error) Run(params string[] args)
    {
        var root = new System.CommandLine.RootCommand();
        root.Subcommands.Add(ExperimentCommand.Create());
        var error = new StringWriter();
        return (CommandLineEntry.Run(root, args, error), error.ToString());
    }

    [Fact]
    public void Short_run_of_every_default_strategy_writes_csv_json_and_png()
    {
        var dir = Directory.CreateTempSubdirectory("offload-staleness").FullName;
        var (code, error) = Run("experiment", "staleness", "--data", "bundled", "--out", dir, "--rounds", "3", "--tau", "2",
            "--clients", "20", "--per-round", "5", "--eval-samples", "200", "--cold-iterations", "5", "--warm-iterations", "2", "--dummies", "4",
            "--strategies", "all", "--unrolled-steps", "2", "--seed", "43"); // Seed 43 picks a stale-class client in round 3 (seed 42 picks none in three rounds).
        Assert.True(code == 0, error);
        foreach (var file in new[] { "accuracy.csv", "corrections.csv", "summary.json", "accuracy-tau2.png" })
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        var runs = summary.RootElement.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(StalenessExperimentOptions.AllStrategies, runs.Select(r => r.GetProperty("strategy").GetString()));
        var fresh = runs.Single(r => r.GetProperty("strategy").GetString() == "fresh");
        Assert.Equal(0, fresh.GetProperty("stale_updates").GetInt32());
        var inversion = runs.Single(r => r.GetProperty("strategy").GetString() == "inversion");
        Assert.True(inversion.GetProperty("stale_updates").GetInt32() > 0);
        Assert.True(inversion.GetProperty("cpu_seconds_per_corrected_update").GetProperty("median").GetDouble() > 0);
        var lines = File.ReadAllLines(Path.Combine(dir, "accuracy.csv"));
        Assert.Equal(StalenessReport.AccuracyHeader, lines[0]);
        Assert.Equal(1 + 3 * StalenessExperimentOptions.AllStrategies.Count, lines.Length);
    }

    [Fact]
    public void Device_heterogeneity_setup_runs_with_emergent_staleness()
    {
        var dir = Directory.CreateTempSubdirectory("offload-staleness-devices").FullName;
        var (code, error) = Run("experiment", "staleness", "--data", "bundled", "--out", dir, "--rounds", "4", "--tau", "30",
            "--clients", "20", "--per-round", "2", "--eval-samples", "100", "--eval-every", "4", "--setup", "devices", "--concurrency", "8",
            "--speed-sigma", "1.5", "--strategies", "unweighted,fedasync-poly", "--measure-fresh", "false");
        Assert.True(code == 0, error);
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        var runs = summary.RootElement.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(2, runs.Count);
        Assert.True(runs[0].GetProperty("stale_updates").GetInt32() > 0, "8 devices in flight, K = 2: updates come back stale");
        Assert.Equal(runs[0].GetProperty("stale_updates").GetInt32(), runs[1].GetProperty("stale_updates").GetInt32()); // Same schedule.
    }

    [Fact]
    public void With_fedzip_uploads_the_correctors_see_what_a_device_sends()
    {
        var dir = Directory.CreateTempSubdirectory("offload-staleness-fedzip").FullName;
        var (code, error) = Run("experiment", "staleness", "--data", "bundled", "--out", dir, "--rounds", "3", "--tau", "2",
            "--clients", "20", "--per-round", "5", "--eval-samples", "200", "--cold-iterations", "5", "--warm-iterations", "2", "--dummies", "4",
            "--strategies", "fedasync-poly,inversion", "--seed", "43", "--codec", "fedzip", "--topz", "0.1", "--clusters", "8", "--measure-fresh", "false");
        Assert.True(code == 0, error);
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        var configuration = summary.RootElement.GetProperty("configuration");
        Assert.Equal("fedzip", configuration.GetProperty("codec").GetString());
        Assert.Equal(0.1, configuration.GetProperty("fedzip").GetProperty("top_z").GetDouble());
        var runs = summary.RootElement.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(["fedasync-poly", "inversion"], runs.Select(r => r.GetProperty("strategy").GetString()));
        // The same schedule whatever the codec: seed 43 makes a stale-class client stale in round 3.
        Assert.All(runs, r => Assert.True(r.GetProperty("stale_updates").GetInt32() > 0));

        // The flag reaches the uploads: the same run with exact updates ends elsewhere.
        var exactDir = Directory.CreateTempSubdirectory("offload-staleness-exact").FullName;
        (code, error) = Run("experiment", "staleness", "--data", "bundled", "--out", exactDir, "--rounds", "3", "--tau", "2",
            "--clients", "20", "--per-round", "5", "--eval-samples", "200", "--strategies", "fedasync-poly", "--seed", "43", "--measure-fresh", "false");
        Assert.True(code == 0, error);
        using var exact = JsonDocument.Parse(File.ReadAllText(Path.Combine(exactDir, "summary.json")));
        Assert.Equal("none", exact.RootElement.GetProperty("configuration").GetProperty("codec").GetString());
        // Three rounds on label-sorted shards stay near chance, so the test loss tells the runs apart, not the accuracy.
        static string LastLoss(string folder, string strategy) =>
            File.ReadAllLines(Path.Combine(folder, "accuracy.csv")).Last(l => l.Split(',')[1] == strategy).Split(',')[4];
        Assert.NotEqual(LastLoss(exactDir, "fedasync-poly"), LastLoss(dir, "fedasync-poly"));
    }

    [Theory]
    [InlineData("--codec", "zip")]
    [InlineData("--setup", "moon")]
    [InlineData("--tau", "x")]
    [InlineData("--tau", "-1")]
    [InlineData("--strategies", "magic")]
    [InlineData("--rounds", "0")]
    [InlineData("--per-round", "500")]
    [InlineData("--gate", "0")]
    [InlineData("--matching", "l2")]
    [InlineData("--dummies", "0")]
    public void Bad_options_exit_2_with_one_line(string option, string value)
    {
        var (code, error) = Run("experiment", "staleness", option, value, "--data", "bundled", "--out", Path.GetTempPath());
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Tau_and_strategy_lists_parse()
    {
        Assert.Equal([10, 40], StalenessExperimentCommand.ParseTaus("10, 40,10"));
        Assert.Equal(["unweighted", "inversion"], StalenessExperimentCommand.ParseStrategies("inversion,unweighted"));
        Assert.Equal(StalenessExperimentOptions.AllStrategies, StalenessExperimentCommand.ParseStrategies("all"));
    }
}
