using Grpc.Core;
using Offload.Aggregator.Journal;
using Offload.Aggregator.Strategies;
using Offload.Client.Federation;
using Offload.Client.Training;
using Offload.Core.Codec;
using Offload.Core.Model;
using Xunit.Abstractions;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// <c>offload serve --state</c> as a process, killed with SIGKILL at seeded points of a federation and
/// restarted each time: every update a device heard acknowledged is in the final model exactly once.
/// </summary>
/// <remarks>
/// The devices send known updates (no training), so each round's model can be computed from the
/// updates acknowledged in it: model_r = model_(r-1) + sum(n_i u_i) / sum(n_i) (FedAvg, server step 1).
/// A lost update, or one folded twice, changes that model. Where a kill lands depends on the machine;
/// what is asserted holds wherever it lands.
/// </remarks>
public sealed class ServeCrashResumeTests(ITestOutputHelper log) : IDisposable
{
    private const int Devices = 3;
    private const int Rounds = 12;
    private const int Kills = 20;
    private const int Hidden = 8;
    private const int Seed = 42;
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-kill-").FullName;
    private readonly OffloadProcesses _processes = new();

    public void Dispose()
    {
        _processes.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static string Token(int device) => $"crash-token-{device:D2}";

    private static long Samples(int device) => 100 + 50 * device;

    /// <summary>Device <paramref name="device"/>'s update in <paramref name="round"/>: small, distinct, known.</summary>
    private static float[] UpdateOf(int device, long round, int length)
    {
        var u = new float[length];
        for (int i = 0; i < length; i++) u[i] = 1e-3f * MathF.Sin(0.37f * i + 1.3f * device + 0.71f * round);
        return u;
    }

    private OffloadProcesses.Running StartServe(int port)
    {
        var arguments = new List<string>
        {
            "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--rounds", Rounds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--min-clients", Devices.ToString(System.Globalization.CultureInfo.InvariantCulture), "--round-deadline", "3600", "--client-evaluation", "off",
            "--hidden", Hidden.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--data", "bundled", "--state", Path.Combine(_directory, "state"), "--out", Path.Combine(_directory, "out"), "--linger", "2",
        };
        for (int d = 0; d < Devices; d++) arguments.AddRange(["--token", $"device-{d}={Token(d)}"]);
        return _processes.Start(arguments);
    }

    private sealed record Acknowledged(int Device, long Round, bool Duplicate);

    [Fact]
    public async Task Every_acknowledged_update_is_in_the_final_model_exactly_once_over_twenty_kill_points()
    {
        using var trainer = TorchTrainer.CreateDefault(Seed, 28, 28, 10, Hidden);
        var layout = trainer.Layout;
        var initial = new float[layout.TotalLength];
        trainer.ExportWeights(initial);
        int port = DaprDeploymentTests.FreePort();
        var random = new Random(20261201);

        var acknowledged = new List<Acknowledged>();
        var acks = new SemaphoreSlim(0);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        var serve = StartServe(port);
        var devices = Enumerable.Range(0, Devices).Select(d => Task.Run(() => RunDeviceAsync(d, port, layout, acknowledged, acks, stop.Token))).ToArray();

        // Kill after seeded acknowledgement counts: half of them at once (right after an acknowledgement), half after a seeded delay.
        var killAt = Enumerable.Range(1, Rounds * Devices - 2).OrderBy(_ => random.Next()).Take(Kills).Order().ToArray();
        int seen = 0, killed = 0;
        foreach (int target in killAt)
        {
            while (seen < target) { await acks.WaitAsync(stop.Token); seen++; }
            if (killed % 2 == 1) await Task.Delay(random.Next(0, 400), stop.Token);
            serve.Process.Kill(); // SIGKILL
            await serve.Process.WaitForExitAsync(stop.Token);
            killed++;
            serve = StartServe(port);
        }
        await Task.WhenAll(devices).WaitAsync(stop.Token);
        var (exit, output, error) = await serve.ExitAsync(TimeSpan.FromMinutes(2));
        log.WriteLine(output);
        Assert.True(exit == 0, $"serve exited {exit}: {error}");
        Assert.Equal(Kills, killed);

        // Read the journal back: every round's model.
        using var journal = SqliteFederationJournal.Open(Path.Combine(_directory, "state"), FederationIdentity.Of(layout, initial, new FedAvg()));
        var record = journal.Load();
        Assert.Equal(Rounds, record.Rounds.Count);
        var model = (float[])initial.Clone();
        for (int r = 1; r <= Rounds; r++)
        {
            Acknowledged[] inRound;
            lock (acknowledged) inRound = [.. acknowledged.Where(a => a.Round == r)];
            // Exactly once: each device acknowledged at most once per round, and the round folded exactly what was acknowledged.
            Assert.Equal(inRound.Length, inRound.Select(a => a.Device).Distinct().Count());
            Assert.Equal(inRound.Length, record.Rounds[r - 1].Summary.Updates);
            double total = inRound.Sum(a => (double)Samples(a.Device));
            var mean = new double[model.Length];
            foreach (var a in inRound)
            {
                var u = UpdateOf(a.Device, r, model.Length);
                for (int i = 0; i < u.Length; i++) mean[i] += Samples(a.Device) / total * u[i];
            }
            for (int i = 0; i < model.Length; i++) model[i] += (float)mean[i];
            var kept = record.Rounds[r - 1].Weights.Span;
            for (int i = 0; i < model.Length; i++)
                Assert.True(Math.Abs(kept[i] - model[i]) <= 1e-5f, $"Round {r}, weight {i}: the journal holds {kept[i]}, the acknowledged updates give {model[i]}.");
        }
        int duplicates;
        lock (acknowledged) duplicates = acknowledged.Count(a => a.Duplicate);
        log.WriteLine($"{killed} kills; {acknowledged.Count} acknowledgements, {duplicates} of them answered from the ledger after a restart.");
    }

    /// <summary>A device that keeps asking and retrying through restarts, and notes every acknowledgement it hears.</summary>
    private static async Task RunDeviceAsync(int device, int port, TensorLayout layout, List<Acknowledged> acknowledged, SemaphoreSlim acks, CancellationToken cancellationToken)
    {
        using var client = new FederatedClientBuilder(new Uri($"http://127.0.0.1:{port}")).WithToken(Token(device))
            .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(50), MaxBackoff = TimeSpan.FromMilliseconds(300), MaxAttempts = 4 })
            .Build();
        while (true)
        {
            FederatedTask task;
            try
            {
                task = await client.GetTaskAsync(cancellationToken);
            }
            catch (RpcException e) when (Transient(e))
            {
                await Task.Delay(100, cancellationToken);
                continue;
            }
            if (task.State == FederatedTaskState.Done) return;
            if (task.State == FederatedTaskState.Wait)
            {
                await Task.Delay(task.RetryAfter, cancellationToken);
                continue;
            }
            byte[] payload = IdentityCodec.Instance.Encode(UpdateOf(device, task.Round, layout.TotalLength), layout);
            while (true)
            {
                try
                {
                    var receipt = await client.SubmitUpdateAsync(task, payload, Samples(device), cancellationToken: cancellationToken);
                    lock (acknowledged) acknowledged.Add(new Acknowledged(device, receipt.Round, receipt.Duplicate));
                    acks.Release();
                    break;
                }
                catch (RpcException e) when (Transient(e))
                {
                    // The gateway is down or restarting: send the same update for the same task again.
                    await Task.Delay(100, cancellationToken);
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.FailedPrecondition or StatusCode.PermissionDenied)
                {
                    break; // The round closed without it (never acknowledged): ask for new work.
                }
            }
        }
    }

    private static bool Transient(RpcException e) =>
        e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted or StatusCode.Aborted;
}
