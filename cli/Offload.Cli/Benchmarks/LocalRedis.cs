using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Offload.Cli.Benchmarks;

/// <summary>
/// A <c>redis-server</c> of this process's own on loopback, with persistence off, for benchmarks
/// that must measure what a Dapr Redis state store would hold. Killed on dispose.
/// </summary>
public sealed class LocalRedis : IAsyncDisposable
{
    /// <summary>What to tell an operator whose machine has no server.</summary>
    public const string InstallHint = "redis-server is not on PATH: install it (Debian: apt-get install redis-server) to measure the state-store hops";

    private readonly Process _process;

    private LocalRedis(Process process, ConnectionMultiplexer connection, int port)
    {
        _process = process;
        Connection = connection;
        Port = port;
    }

    /// <summary>A connection to the server.</summary>
    public ConnectionMultiplexer Connection { get; }

    /// <summary>The server's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Starts a server, or returns null when <c>redis-server</c> is not installed.</summary>
    /// <exception cref="InvalidOperationException">The server started but did not answer within 10 s.</exception>
    public static async Task<LocalRedis?> StartAsync(CancellationToken cancellationToken = default)
    {
        string? binary = Find("redis-server");
        if (binary is null) return null;
        int port = FreePort();
        var start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--proto-max-bulk-len", "1gb" })
            start.ArgumentList.Add(a);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{binary} did not start.");
        _ = process.StandardOutput.ReadToEndAsync(cancellationToken);
        _ = process.StandardError.ReadToEndAsync(cancellationToken);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},connectTimeout=1000,syncTimeout=60000,asyncTimeout=60000").ConfigureAwait(false);
                await connection.GetDatabase().PingAsync().ConfigureAwait(false);
                return new LocalRedis(process, connection, port);
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
            catch (RedisConnectionException e)
            {
                process.Kill();
                process.Dispose();
                throw new InvalidOperationException($"{binary} on port {port} did not answer: {e.Message}", e);
            }
        }
    }

    /// <summary>Closes the connection and kills the server.</summary>
    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync().ConfigureAwait(false);
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync().ConfigureAwait(false);
        _process.Dispose();
    }

    private static string? Find(string name)
    {
        foreach (string folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(folder, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
