using System.Text.Json.Nodes;
using Offload.Cli.Benchmarks;

namespace Offload.Cli.Tests.Benchmarks;

[Collection(ConsoleCommands.Name)]
public sealed class PlacementBenchmarkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-placement-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static (int Code, string Error) Run(params string[] args) => BenchCommandLine.Run(args);

    [Fact]
    public void It_writes_the_summary_the_table_and_the_plot_and_the_planner_keeps_more_bytes_home()
    {
        var (code, error) = Run("bench", "placement", "--nodes", "4,8", "--clients", "200", "--out", _directory);
        Assert.True(code == 0, error);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(_directory, "summary.json")))!;
        var rows = summary["rows"]!.AsArray();
        Assert.Equal(2, rows.Count);
        foreach (var row in rows)
        {
            Assert.True(row!["planned_cross_bytes"]!.GetValue<long>() < row["round_robin_cross_bytes"]!.GetValue<long>());
            Assert.InRange(row["planned_local_fraction"]!.GetValue<double>(), 0, 1);
        }
        Assert.Equal(3, File.ReadAllLines(Path.Combine(_directory, "placement.csv")).Length);
        Assert.True(new FileInfo(Path.Combine(_directory, "placement.png")).Length > 0);
    }

    [Theory]
    [InlineData("--nodes", "0")]
    [InlineData("--nodes", "four")]
    [InlineData("--clients", "-5")]
    [InlineData("--fan-in", "1")]
    [InlineData("--skew", "-1")]
    [InlineData("--update-mb", "0")]
    [InlineData("--per-core", "0")]
    public void A_bad_option_exits_2_naming_it(string option, string value)
    {
        var (code, error) = Run("bench", "placement", option, value, "--out", _directory);
        Assert.Equal(2, code);
        Assert.Contains(option, error);
    }
}
