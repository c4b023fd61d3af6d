using System.Text.Json.Nodes;

namespace Offload.Cli.Tests.Benchmarks;

[Collection(ConsoleCommands.Name)]
public sealed class IngestBenchmarkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-ingest-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static (int Code, string Error) Run(params string[] args) => BenchCommandLine.Run(args);

    [Fact]
    public void With_bare_it_pairs_each_gateway_run_with_a_bare_gRPC_upload_of_the_same_bytes()
    {
        var (code, error) = Run("bench", "ingest", "--clients", "2", "--payload-mb", "0.05", "--rounds", "1", "--pairs", "1", "--bare", "--out", _directory);
        Assert.True(code == 0, error);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(_directory, "summary.json")))!;
        Assert.Single(summary["runs"]!.AsArray());
        Assert.Single(summary["bare_runs"]!.AsArray());
        Assert.True(summary["median_mib_per_second_bare"]!.GetValue<double>() > 0);
        Assert.True(summary["median_pair_ratio_to_bare"]!.GetValue<double>() > 0);
        // Two updates a round were acknowledged and folded in the gateway's run.
        Assert.Equal(2, summary["runs"]![0]!["updates"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("--bare", "--durable", "on")]
    [InlineData("--pairs", "0")]
    [InlineData("--durable", "sometimes")]
    public void Bad_options_exit_2_naming_the_option(params string[] arguments)
    {
        var (code, error) = Run(["bench", "ingest", .. arguments, "--out", _directory]);
        Assert.Equal(2, code);
        Assert.Contains(arguments[0], error);
    }
}
