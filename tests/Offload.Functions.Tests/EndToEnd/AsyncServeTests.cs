using System.Globalization;
using System.Text.Json.Nodes;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// <c>offload serve --mode async</c> with device processes on loopback, one of them slow: the
/// federation publishes every version from exactly K arrivals, and the slow device's updates arrive
/// stale and go through the corrector (gradient inversion), counted per outcome in the summary.
/// </summary>
public sealed class AsyncServeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-async-").FullName;
    private readonly OffloadProcesses _processes = new();

    public void Dispose()
    {
        _processes.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_slow_devices_stale_updates_are_corrected_and_every_version_takes_K_arrivals()
    {
        const int Versions = 12, K = 2;
        int port = DaprDeploymentTests.FreePort();
        string output = Path.Combine(_directory, "out");
        string address = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        var serve = _processes.Start(["serve", "--mode", "async", "--port", port.ToString(CultureInfo.InvariantCulture), "--rounds", $"{Versions}", "--buffer", $"{K}",
            "--corrector", "inversion", "--inversion-samples", "1333", "--data", "bundled", "--hidden", "8", "--linger", "8",
            "--token", "fast-0=async-token-0", "--token", "fast-1=async-token-1", "--token", "slow-2=async-token-2", "--out", output]);
        // serve lingers 8 s answering "done": longer than the slow device's cycle (about 3 s), so a device
        // still training at the last version hears it at its next call instead of finding the gateway gone.
        // The slow device waits 2 s more per update: the fast ones publish versions meanwhile, and need
        // about 12 updates each to finish, so the slow device's updates are both stale and in.
        var devices = Enumerable.Range(0, 3).Select(i => _processes.Start(["client", "--server", address, "--token", $"async-token-{i}",
            "--partition", $"{i}/3", "--data", "bundled", "--hidden", "8", .. (i == 2 ? new[] { "--slowdown", "2", "--upload-delay", "2" } : [])])).ToArray();

        var ended = await Task.WhenAll(devices.Select(d => d.ExitAsync(TimeSpan.FromMinutes(4))));
        Assert.All(ended, d => Assert.True(d.ExitCode == 0, $"device exited {d.ExitCode}: {d.Err}\n{d.Out}"));
        var (exit, stdout, stderr) = await serve.ExitAsync(TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, $"serve exited {exit}: {stderr}\n{stdout}");
        Assert.Contains("emulating a device 2x slower", ended[2].Out);

        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "summary.json")))!;
        Assert.Equal("async", summary["configuration"]!["mode"]!.GetValue<string>());
        Assert.Equal(Versions, summary["rounds"]!.GetValue<int>());
        Assert.Equal(Versions * K, summary["updates"]!.GetValue<int>());
        var rounds = File.ReadAllLines(Path.Combine(output, "rounds.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.All(rounds, r => Assert.Equal($"{K}", r[4])); // Every version from exactly K updates.
        Assert.All(rounds, r => Assert.True(double.Parse(r[^1], CultureInfo.InvariantCulture) > 0)); // Each has its time, for accuracy against time.

        var asynchronous = summary["asynchronous"]!;
        Assert.Equal("inversion", asynchronous["corrector"]!.GetValue<string>());
        var outcomes = asynchronous["outcomes"]!.AsObject();
        Assert.Equal(Versions * K, outcomes.Sum(o => o.Value!.GetValue<long>()));
        var slow = asynchronous["devices"]!.AsArray().Single(d => d!["client"]!.GetValue<string>() == "slow-2")!;
        long stale = slow["stale"]!.GetValue<long>();
        Assert.True(stale >= 1, $"the slow device's updates: {slow.ToJsonString()}");
        // Each stale update was either replaced by the inversion or, failing its gate, weighted by the fall-back.
        Assert.Equal(stale, slow["corrected"]!.GetValue<long>() + slow["fell_back"]!.GetValue<long>());
        Assert.True(asynchronous["corrections_run"]!.GetValue<int>() >= stale);
        Assert.Equal(0, asynchronous["ignored_events"]!.GetValue<long>());
    }
}
