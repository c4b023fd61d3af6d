using System.Text.Json.Nodes;
using Offload.Cli.Benchmarks;

namespace Offload.Cli.Tests.Benchmarks;

[Collection(ConsoleCommands.Name)]
public sealed class HopBenchmarkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-hop-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static (int Code, string Error) Run(params string[] args) => BenchCommandLine.Run(args);

    private static bool RedisInstalled() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, "redis-server")));

    [Fact]
    public void Every_variant_delivers_the_bytes_and_the_run_writes_its_summary_table_and_plot()
    {
        var (code, error) = Run("bench", "hop", "--sizes-mb", "0.5,2", "--repeats", "2", "--out", _directory);
        Assert.True(code == 0, error);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(_directory, "summary.json")))!;
        var sizes = summary["sizes"]!.AsArray();
        Assert.Equal(2, sizes.Count);
        // The Redis rows need a redis-server (.ci/run installs one); without it they are left out, by name.
        string[] expected = RedisInstalled() ? HopBenchmark.Variants : [.. HopBenchmark.Variants.Where(v => !v.StartsWith("redis", StringComparison.Ordinal))];
        foreach (var size in sizes)
        {
            var medians = size!["median_ms"]!.AsObject();
            Assert.Equal(expected.Order(), medians.Select(m => m.Key).Order());
            foreach (var (_, ms) in medians) Assert.True(ms!.GetValue<double>() > 0);
            Assert.Equal(expected.Length - 1, size["times_the_reference_hop"]!.AsObject().Count);
        }
        Assert.Equal(1 + 2 * expected.Length, File.ReadAllLines(Path.Combine(_directory, "hops.csv")).Length);
        Assert.True(new FileInfo(Path.Combine(_directory, "hops.png")).Length > 0);
        // The benchmark's own store file is gone.
        Assert.Empty(Directory.GetFiles(_directory, "hop-store-*"));
    }

    [Theory]
    [InlineData("--sizes-mb", "0")]
    [InlineData("--sizes-mb", "2000")]
    [InlineData("--sizes-mb", "NaN")]
    [InlineData("--repeats", "0")]
    public void Bad_options_exit_2_naming_the_option(string option, string value)
    {
        var (code, error) = Run("bench", "hop", option, value, "--out", _directory);
        Assert.Equal(2, code);
        Assert.Contains(option, error);
    }
}
