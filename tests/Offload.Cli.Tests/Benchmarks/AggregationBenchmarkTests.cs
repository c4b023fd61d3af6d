using Offload.Cli.Benchmarks;

namespace Offload.Cli.Tests.Benchmarks;

public class AggregationBenchmarkTests
{
    [Fact]
    public void Measures_flat_and_tree_rows_for_every_count()
    {
        var rows = AggregationBenchmark.Measure(new[] { 5, 40 }, parameters: 2_000, topZ: 0.05, fanIn: 4, repeats: 1, threads: 2);
        Assert.Equal(new[] { "flat", "tree-1t", "tree-2t", "flat", "tree-1t", "tree-2t" }, rows.Select(r => r.Mode));
        Assert.All(rows, r => Assert.True(r.MedianSeconds > 0));
        Assert.Contains("40 updates, fan-in <= 4", rows[4].Plan);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("10,x")]
    [InlineData("-5")]
    public void Bad_count_lists_are_refused(string text) =>
        Assert.Throws<InvalidOptionException>(() => AggregationBenchmark.ParseCounts(text));
}
