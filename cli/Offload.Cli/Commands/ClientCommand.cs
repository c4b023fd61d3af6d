using System.CommandLine;
using System.Globalization;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Offload.Cli.Options;
using Offload.Cli.Simulation;
using Offload.Client.Federation;
using Offload.Client.Training;

namespace Offload.Cli.Commands;

/// <summary><c>offload client</c>: one device that trains on its partition and takes part until the server says done.</summary>
public static class ClientCommand
{
    /// <summary>Builds the command with its options.</summary>
    public static Command Create()
    {
        var server = new Option<string>("--server") { Description = "The gateway, e.g. http://127.0.0.1:5000.", Required = true };
        var token = new Option<string?>("--token") { Description = "This device's bearer token." };
        var code = new Option<string?>("--enrollment-code") { Description = "A one-time enrollment code, exchanged for a token (instead of --token)." };
        var partition = new Option<string>("--partition") { Description = "This device's share of the data, i/n: partition i (0-based) of n.", Required = true };
        var scheme = new Option<string>("--scheme") { Description = "How the data is split over the n devices: iid | dirichlet | shards.", DefaultValueFactory = _ => "iid" };
        var alpha = new Option<double>("--alpha") { Description = "Dirichlet concentration (with --scheme dirichlet).", DefaultValueFactory = _ => 0.5 };
        var seed = new Option<int>("--seed") { Description = "The run's seed: the same on the server and every device.", DefaultValueFactory = _ => 42 };
        var hidden = HiddenWidthOption.Create("The same as the server's --hidden.");
        var threads = new Option<int>("--threads") { Description = "Threads for local training.", DefaultValueFactory = _ => 1 };
        var data = new Option<string?>("--data") { Description = "Fashion-MNIST folder ('bundled' for the embedded subset; default: $OFFLOAD_DATA, the Debian package, else bundled)." };
        var verbose = new Option<bool>("--verbose") { Description = "Log retries and resumes to stderr." };
        var slowdown = new Option<double>("--slowdown") { Description = "Emulate a device this many times slower: after each training, wait (F - 1) x its duration before uploading.", DefaultValueFactory = _ => 1.0 };
        var classes = new Option<string?>("--classes") { Description = "Hold only these classes, e.g. 0-7 or 8,9: the partition i/n is taken of their samples (a device whose data the others lack)." };
        var uploadDelay = new Option<double>("--upload-delay") { Description = "Emulate a slow uplink: wait this many seconds before each upload.", DefaultValueFactory = _ => 0.0 };

        var command = new Command("client", "Take part in a federation as one device: train on partition i of n, upload, repeat until done.")
        {
            server, token, code, partition, scheme, alpha, seed, hidden, threads, data, verbose, slowdown, uploadDelay, classes,
        };
        command.SetAction((parsed, cancellationToken) =>
        {
            var (index, count) = ParsePartition(parsed.GetValue(partition)!);
            string? t = parsed.GetValue(token), c = parsed.GetValue(code);
            if (string.IsNullOrEmpty(t) == string.IsNullOrEmpty(c)) throw new InvalidOptionException("Give exactly one of --token and --enrollment-code.");
            if (!Uri.TryCreate(parsed.GetValue(server), UriKind.Absolute, out var address) || (address.Scheme != "http" && address.Scheme != "https"))
                throw new InvalidOptionException($"--server must be an http:// or https:// address (got '{parsed.GetValue(server)}').");
            int threadCount = parsed.GetValue(threads);
            if (threadCount < 1) throw new InvalidOptionException($"--threads must be at least 1 (got {threadCount}).");
            int width = HiddenWidthOption.Validate(parsed.GetValue(hidden));
            double factor = parsed.GetValue(slowdown), delay = parsed.GetValue(uploadDelay);
            if (!(factor >= 1) || !double.IsFinite(factor)) throw new InvalidOptionException($"--slowdown must be a number of at least 1 (got {factor.ToString(CultureInfo.InvariantCulture)}).");
            if (!(delay >= 0) || delay > 3600) throw new InvalidOptionException($"--upload-delay must be 0 to 3600 seconds (got {delay.ToString(CultureInfo.InvariantCulture)}).");
            var options = new SimulationOptions
            {
                Clients = count,
                Seed = parsed.GetValue(seed),
                Partition = SimulationOptions.ParsePartition(parsed.GetValue(scheme)!),
                Alpha = parsed.GetValue(alpha),
            }.Validate();
            return RunAsync(address, t, c, index, options, width, threadCount, parsed.GetValue(data), parsed.GetValue(verbose), Console.Out, cancellationToken, factor, TimeSpan.FromSeconds(delay), parsed.GetValue(classes));
        });
        return command;
    }

    /// <summary>Parses <c>i/n</c> with 0 &lt;= i &lt; n.</summary>
    /// <exception cref="InvalidOptionException">The text is not two integers i/n with 0 &lt;= i &lt; n.</exception>
    public static (int Index, int Count) ParsePartition(string value)
    {
        var parts = value.Split('/');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            && n >= 1 && i < n)
            return (i, n);
        throw new InvalidOptionException($"--partition must be i/n with 0 <= i < n, e.g. 0/5 (got '{value}').");
    }

    private static async Task<int> RunAsync(Uri server, string? token, string? code, int index, SimulationOptions split, int hidden, int threads,
        string? dataDirectory, bool verbose, TextWriter output, CancellationToken cancellationToken, double slowdown = 1, TimeSpan uploadDelay = default, string? classes = null)
    {
        var dataset = DataOption.LoadData(dataDirectory);
        var train = classes is null ? dataset.Train : Devices.ClassSubset.Of(dataset.Train, Devices.ClassSubset.Parse(classes, dataset.Train.ClassCount));
        if (split.Clients > train.Count)
            throw new InvalidOptionException($"--partition asks for {split.Clients} partitions of {train.Count} samples.");
        var indices = ClientPartitions.Create(train, split)[index].Indices;
        string name = $"client {index}/{split.Clients}";

        TorchSharp.torch.set_num_threads(threads);
        ITrainer torch = TorchTrainer.CreateDefault(split.Seed, dataset.Train.Rows, dataset.Train.Columns, dataset.Train.ClassCount, hidden);
        using var trainer = slowdown > 1 || uploadDelay > TimeSpan.Zero ? new Devices.EmulatedSlowDevice(torch, slowdown, uploadDelay) : torch;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {indices.Length} samples{(classes is null ? "" : $" of classes {classes}")} of {dataset.Source}{(trainer is Devices.EmulatedSlowDevice slow ? $", emulating a device {slow.Slowdown:0.##}x slower with {slow.UploadDelay.TotalSeconds:0.##} s upload delay" : "")}, model {trainer.Layout.TotalLength:N0} parameters ({trainer.Layout.TotalLength * (double)sizeof(float) / 1e6:F1} MB, --hidden {hidden}), server {server}"));
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning));
        var builder = new FederatedClientBuilder(server).WithLoggerFactory(loggers).Configure(o => o with { DeviceName = name });
        if (token is not null) builder.WithToken(token);
        else builder.WithEnrollmentCode(code!);
        using var client = builder.Build();

        var progress = new Progress(output, name);
        try
        {
            var rounds = await client.ParticipateAsync(trainer, train, indices, index, split.Seed, progress, cancellationToken);
            output.WriteLine($"{name}: done after {rounds.Count} rounds{Skipped(progress)}.");
            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // SIGTERM or SIGINT: the SDK stopped at its next safe point (between batches, or an aborted
            // upload the gateway can resume); a stop the user asked for is a clean exit.
            output.WriteLine($"{name}: stopped by signal after {progress.Completed} rounds{Skipped(progress)}.");
            return 0;
        }
        catch (ArgumentException e) when (e.ParamName == "trainer")
        {
            throw new InvalidOptionException($"{e.Message.Replace(" (Parameter 'trainer')", "", StringComparison.Ordinal)} Give the server's --hidden.");
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
        {
            throw new InvalidOptionException($"the gateway refused this device: {e.Status.Detail}");
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
        {
            throw new InvalidOptionException($"the gateway at {server} cannot be reached: {e.Status.Detail}");
        }
    }

    private static string Skipped(Progress progress) => progress.SkippedRounds == 0 ? "" : $" ({progress.SkippedRounds} skipped)";

    /// <summary>Prints a line when a round's training starts and when it ends; runs synchronously so lines keep their order.</summary>
    private sealed class Progress(TextWriter output, string name) : IProgress<ParticipationProgress>
    {
        private int _completed;
        private int _skipped;

        /// <summary>Rounds submitted so far (the summary after a signal, when no list of rounds comes back).</summary>
        public int Completed => Volatile.Read(ref _completed);

        /// <summary>Rounds skipped so far.</summary>
        public int SkippedRounds => Volatile.Read(ref _skipped);

        public void Report(ParticipationProgress value)
        {
            if (value.Stage == ParticipationStage.Training)
            {
                output.WriteLine($"{name}: round {value.Round}: training.");
                return;
            }
            if (value.Stage == ParticipationStage.Skipped && value.Skipped is { } skipped)
            {
                Interlocked.Increment(ref _skipped);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: round {skipped.Round} skipped, nothing uploaded ({skipped.Reason}: {skipped.Detail}); asking again in {skipped.Retry.TotalSeconds:F1} s"));
                return;
            }
            if (value.Stage != ParticipationStage.Submitted || value.Completed is not { } r) return;
            Interlocked.Increment(ref _completed);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: round {r.Round} trained {r.SampleCount} samples from model v{r.ModelVersion} ({(r.DownloadedDelta ? "change" : "full")}, {r.DownloadBytes / 1024.0:F1} KiB) in {r.TrainSeconds:F1} s (loss {r.MeanLoss:F4}){(r.Evaluation is { } e ? $"; the model scored {e.Accuracy * 100:F2}% on this device's {e.SampleCount} samples before training" : "")}; update {(r.Receipt.Duplicate ? "already counted" : "accepted")} after {r.Receipt.Attempts} attempt(s)"));
        }
    }
}
