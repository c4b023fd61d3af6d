using System.Diagnostics;
using System.Text.Json;
using Offload.Cli.Commands;

namespace Offload.Cli.Tests;

[Collection(ConsoleCommands.Name)]
public class CommandLineTests
{
    private static (int Code, string Error) Run(params string[] args)
    {
        var root = new System.CommandLine.RootCommand();
        root.Subcommands.Add(SimulateCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(ClientCommand.Create());
        var error = new StringWriter();
        int code = CommandLineEntry.Run(root, args, error);
        return (code, error.ToString());
    }

    [Theory]
    [InlineData("--clients", "-3")]
    [InlineData("--rounds", "0")]
    [InlineData("--fraction", "1.5")]
    [InlineData("--fraction", "0")]
    [InlineData("--partition", "random")]
    [InlineData("--alpha", "-1")]
    [InlineData("--lr", "0")]
    [InlineData("--batch", "0")]
    [InlineData("--local-epochs", "-1")]
    [InlineData("--clients", "many")]
    [InlineData("--no-such-option", "1")]
    [InlineData("--codec", "zip")]
    [InlineData("--error-feedback", "maybe")]
    [InlineData("--downstream", "gzip")]
    [InlineData("--hierarchy", "1")]
    public void Bad_options_exit_2_with_one_line(string option, string value)
    {
        var (code, error) = Run("simulate", option, value, "--data", "bundled", "--out", Path.GetTempPath());
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.DoesNotContain("   at ", error);
    }

    [Theory]
    [InlineData("simulate", "nope", "Unknown strategy 'nope'")]
    [InlineData("simulate", "fedadam:lr=0.1", "has no key 'lr'")]
    [InlineData("serve", "krum:f=x", "f=x is not a finite number")]
    [InlineData("serve", "median:clip=1", "has no key 'clip'")]
    public void A_bad_strategy_exits_2_and_lists_the_valid_ones(string command, string strategy, string expected)
    {
        var (code, error) = Run(command, "--strategy", strategy, "--data", "bundled", "--out", Path.GetTempPath());
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        foreach (var name in Aggregator.Strategies.StrategyCatalog.Names) Assert.Contains(name, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void A_bad_client_evaluation_switch_exits_2()
    {
        var (code, error) = Run("serve", "--client-evaluation", "maybe", "--data", "bundled", "--out", Path.GetTempPath());
        Assert.Equal(2, code);
        Assert.Contains("--client-evaluation", error);
    }

    [Theory]
    [InlineData("--topz", "0")]
    [InlineData("--topz", "1.5")]
    [InlineData("--clusters", "0")]
    [InlineData("--clusters", "1000")]
    [InlineData("--encoding", "zip")]
    [InlineData("--dense-threshold", "-1")]
    public void Bad_fedzip_options_exit_2_naming_the_option(string option, string value)
    {
        var (code, error) = Run("simulate", "--codec", "fedzip", option, value, "--data", "bundled", "--out", Path.GetTempPath());
        Assert.Equal(2, code);
        Assert.Contains(option, error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Inspect_describes_a_real_payload_and_rejects_a_damaged_one()
    {
        var layout = Offload.Core.Model.TensorLayout.Create(new[] { ("w", new[] { 1000 }), ("b", new[] { 10 }) });
        var update = new float[layout.TotalLength];
        for (int i = 0; i < update.Length; i++) update[i] = MathF.Sin(i) * 0.01f;
        var payload = new Offload.Core.Codec.FedZipCodec(new Offload.Core.Codec.FedZipOptions { TopZ = 0.05, EmbedLayout = true }).Encode(update, layout);
        var dir = Directory.CreateTempSubdirectory("offload-inspect").FullName;
        var good = Path.Combine(dir, "good.bin");
        File.WriteAllBytes(good, payload);
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, InspectCommand.Run(good, output, error));
        Assert.Contains("FedZip", output.ToString());
        Assert.Contains("1010 parameters", output.ToString());

        var flipped = (byte[])payload.Clone();
        flipped[^5] ^= 0x40;
        var damaged = Path.Combine(dir, "damaged.bin");
        File.WriteAllBytes(damaged, flipped);
        error = new StringWriter();
        Assert.Equal(2, InspectCommand.Run(damaged, new StringWriter(), error));
        Assert.Single(error.ToString().TrimEnd().Split('\n'));

        var truncated = Path.Combine(dir, "truncated.bin");
        File.WriteAllBytes(truncated, payload[..20]);
        error = new StringWriter();
        Assert.Equal(2, InspectCommand.Run(truncated, new StringWriter(), error));
        Assert.Contains("not a valid payload", error.ToString());
    }

    [Theory]
    [InlineData("serve", "--min-clients", "0")]
    [InlineData("serve", "--round-deadline", "-1")]
    [InlineData("serve", "--codec", "zip")]
    [InlineData("serve", "--token", "short")]
    [InlineData("serve", "--tokens", "/no/such/tokens.txt")]
    [InlineData("serve", "--port", "70000")]
    [InlineData("serve", "--hierarchy", "1")]
    [InlineData("serve", "--downstream", "zip")]
    [InlineData("serve", "--downstream", "fedzip:2")]
    [InlineData("serve", "--downstream", "fedzip:0.01:0")]
    [InlineData("serve", "--aggregator", "lambda")]
    [InlineData("serve", "--app-port", "0")]
    [InlineData("serve", "--sidecar-wait", "-1")]
    [InlineData("client", "--partition", "5/5")]
    [InlineData("client", "--partition", "one-of-five")]
    [InlineData("client", "--server", "ftp://x")]
    public void Bad_serve_and_client_options_exit_2_with_one_line(string command, string option, string value)
    {
        var defaults = command == "serve"
            ? new Dictionary<string, string> { ["--token"] = "long-enough-token", ["--data"] = "bundled" }
            : new Dictionary<string, string> { ["--server"] = "http://127.0.0.1:1", ["--token"] = "long-enough-token", ["--partition"] = "0/2", ["--data"] = "bundled" };
        if (option != "--token") defaults.Remove(option);
        var args = new List<string> { command };
        foreach (var (k, v) in defaults) args.AddRange([k, v]);
        args.AddRange([option, value]);
        var (code, error) = Run([.. args]);
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.DoesNotContain("   at ", error);
        Assert.DoesNotContain("Required command", error);
    }

    [Theory]
    [InlineData("serve", "0")]
    [InlineData("serve", "-1")]
    [InlineData("serve", "100001")]
    [InlineData("client", "0")]
    [InlineData("client", "100001")]
    public void A_hidden_width_out_of_range_exits_2_naming_the_option(string command, string value)
    {
        string[] args = command == "serve"
            ? ["serve", "--token", "long-enough-token", "--data", "bundled", "--hidden", value]
            : ["client", "--server", "http://127.0.0.1:1", "--token", "long-enough-token", "--partition", "0/2", "--data", "bundled", "--hidden", value];
        var (code, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal($"offload: --hidden must be 1..100000 (the width of the dense layer fc1) (got {value}).", error.TrimEnd());
    }

    [Theory]
    [InlineData("serve")]
    [InlineData("client")]
    public void A_hidden_width_that_is_not_a_number_exits_2_naming_the_option(string command)
    {
        string[] args = command == "serve"
            ? ["serve", "--token", "long-enough-token", "--data", "bundled", "--hidden", "wide"]
            : ["client", "--server", "http://127.0.0.1:1", "--token", "long-enough-token", "--partition", "0/2", "--data", "bundled", "--hidden", "wide"];
        var (code, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains("--hidden", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Serve_with_the_dapr_aggregator_but_no_sidecar_exits_2_naming_dapr_run()
    {
        using var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        int appPort = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var (code, error) = Run("serve", "--aggregator", "dapr", "--port", "0", "--app-port", appPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--token", "long-enough-token", "--data", "bundled", "--rounds", "1", "--sidecar-wait", "0");
        Assert.Equal(2, code);
        Assert.Contains("no Dapr sidecar", error);
        Assert.Contains("dapr run", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void Serve_without_any_way_to_authenticate_exits_2()
    {
        var (code, error) = Run("serve", "--data", "bundled");
        Assert.Equal(2, code);
        Assert.Contains("--token", error);
    }

    [Fact]
    public void Missing_data_folder_names_the_file_and_how_to_get_it()
    {
        var empty = Directory.CreateTempSubdirectory("offload-nodata").FullName;
        var (code, error) = Run("simulate", "--data", empty);
        Assert.Equal(2, code);
        Assert.Contains("train-images-idx3-ubyte", error);
        Assert.Contains("apt-get install dataset-fashion-mnist", error);
    }

    [Fact]
    public void Truncated_data_file_exits_2_naming_the_file()
    {
        var dir = Directory.CreateTempSubdirectory("offload-truncated").FullName;
        var bundled = Offload.Core.Data.FashionMnistCatalog.LoadBundled();
        // Write a valid set of four raw IDX files, then cut the training images short.
        WriteIdx(Path.Combine(dir, "train-images-idx3-ubyte"), 0x803, bundled.Train.Pixels, bundled.Train.Count, 28, 28);
        WriteIdx(Path.Combine(dir, "train-labels-idx1-ubyte"), 0x801, bundled.Train.Labels, bundled.Train.Count);
        WriteIdx(Path.Combine(dir, "t10k-images-idx3-ubyte"), 0x803, bundled.Test.Pixels, bundled.Test.Count, 28, 28);
        WriteIdx(Path.Combine(dir, "t10k-labels-idx1-ubyte"), 0x801, bundled.Test.Labels, bundled.Test.Count);
        var path = Path.Combine(dir, "train-images-idx3-ubyte");
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(f.Length / 2);
        var (code, error) = Run("simulate", "--data", dir, "--out", Path.Combine(dir, "out"));
        Assert.Equal(2, code);
        Assert.Contains("train-images-idx3-ubyte", error);
    }

    private static void WriteIdx(string path, int magic, byte[] payload, params int[] dims)
    {
        using var f = File.Create(path);
        Span<byte> word = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(word, magic);
        f.Write(word);
        foreach (int d in dims)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(word, d);
            f.Write(word);
        }
        f.Write(payload);
    }

    [Fact]
    public void Simulate_in_a_separate_process_writes_csv_json_and_png()
    {
        var output = Directory.CreateTempSubdirectory("offload-sim").FullName;
        var dll = Path.Combine(AppContext.BaseDirectory, "offload.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "simulate", "--data", "bundled", "--clients", "4", "--rounds", "2", "--fraction", "0.5", "--out", output })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), "simulate did not finish");
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {stderr}\n{stdout}");

        var csv = File.ReadAllLines(Path.Combine(output, "rounds.csv"));
        Assert.Equal(Offload.Cli.Reports.RunReport.CsvHeader, csv[0]);
        Assert.Equal(3, csv.Length);
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "summary.json")));
        Assert.Equal(2, summary.RootElement.GetProperty("rounds").GetInt32());
        Assert.Equal(4, summary.RootElement.GetProperty("configuration").GetProperty("clients").GetInt32());
        Assert.True(summary.RootElement.GetProperty("total_bytes_up").GetInt64() > 0);
        var png = File.ReadAllBytes(Path.Combine(output, "accuracy.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    [Fact]
    public void A_bad_option_in_a_separate_process_exits_2_without_a_stack_trace()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "offload.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "simulate", "--fraction", "2" }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string stderr = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)));
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("--fraction", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
