using System.Text.Json;
using Offload.Cli.Commands;
using Offload.Cli.Experiments;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Cli.Tests.Experiments;

[Collection(ConsoleCommands.Name)]
public class CompressionExperimentTests
{
    private static readonly TensorLayout Layout = TensorLayout.Create(new[] { ("w", new[] { 4000 }), ("b", new[] { 40 }) });

    private static float[] Update(int seed)
    {
        var random = new Random(seed);
        var u = new float[Layout.TotalLength];
        for (int i = 0; i < u.Length; i++) u[i] = (float)(random.NextDouble() - 0.5) * 0.02f;
        return u;
    }

    [Fact]
    public void Reencoding_the_sent_update_gives_each_fixed_encodings_own_size()
    {
        var options = new FedZipOptions { TopZ = 0.02, DenseThreshold = 0 };
        var tap = new EncodingSizeTap(Layout, options);
        var update = Update(1);
        var sent = new FedZipCodec(options).Encode(update, Layout);
        tap.Encoded(1, 0, update, sent);
        foreach (var encoding in new[] { FedZipEncoding.Huffman, FedZipEncoding.Positions, FedZipEncoding.Gaps })
        {
            long direct = new FedZipCodec(options with { Encoding = encoding }).Encode(update, Layout).Length;
            Assert.Equal(direct, tap.EncodingBytes[encoding.ToString().ToLowerInvariant()]);
        }
        Assert.Equal(4L * Layout.TotalLength, tap.RawBytes);
        Assert.False(tap.EncodingBytes.ContainsKey("brotli"));
    }

    [Fact]
    public void Raw_runs_measure_brotli_and_gzip_of_the_float32_bytes()
    {
        var tap = new EncodingSizeTap(Layout, null);
        var update = Update(2);
        tap.Encoded(1, 0, update, IdentityCodec.Instance.Encode(update, Layout));
        Assert.InRange(tap.EncodingBytes["brotli"], 1, 4L * Layout.TotalLength + 64);
        Assert.InRange(tap.EncodingBytes["gzip"], 1, 4L * Layout.TotalLength + 64);
        Assert.Equal(1, tap.Updates);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("0.1,2")]
    [InlineData("0.1,abc")]
    public void Bad_topz_lists_are_refused(string text) =>
        Assert.Throws<InvalidOptionException>(() => CompressionExperiment.ParseList(text));

    [Fact]
    public void A_short_experiment_writes_every_run_and_the_comparison()
    {
        var output = Directory.CreateTempSubdirectory("offload-compression").FullName;
        var root = new System.CommandLine.RootCommand();
        root.Subcommands.Add(ExperimentCommand.Create());
        var error = new StringWriter();
        int code = CommandLineEntry.Run(root, new[] { "experiment", "compression", "--data", "bundled", "--clients", "4", "--rounds", "1", "--topz", "0.05", "--out", output }, error);
        Assert.True(code == 0, error.ToString());
        var csv = File.ReadAllLines(Path.Combine(output, "compression.csv"));
        Assert.Equal(4, csv.Length); // header, uncompressed, z=0.05 with and without error feedback
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "summary.json")));
        var runs = summary.RootElement.GetProperty("runs");
        Assert.Equal(3, runs.GetArrayLength());
        Assert.True(runs[0].GetProperty("alternatives").GetProperty("brotli").GetProperty("ratio").GetDouble() > 1);
        Assert.True(runs[1].GetProperty("ratio").GetDouble() > 10);
        Assert.True(File.Exists(Path.Combine(output, "accuracy-vs-ratio.png")));
        Assert.True(File.Exists(Path.Combine(output, "fedzip-z0.05-ef", "rounds.csv")));
    }
}
