using System.Diagnostics;
using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Cli.Benchmarks.Bare;
using Offload.Gateway.Hosting;

namespace Offload.Cli.Benchmarks;

/// <summary>
/// The bare baseline of <c>offload bench ingest --bare</c>: the same clients, rounds and chunks as
/// the gateway run, each client on its own HTTP/2 connection, streaming the same bytes to a Kestrel
/// service that only counts them. No authentication, no store, no checks, no aggregation: what is
/// left of the gateway's cost when everything Offload does is taken away.
/// </summary>
public static class BareUploadBenchmark
{
    /// <summary>Uploads <c>Clients × Rounds</c> payloads (after one warm-up round); MiB/s and updates/s of the measured rounds.</summary>
    public static async Task<(double UpdatesPerSecond, double MegabytesPerSecond)> RunAsync(IngestBenchmarkOptions options, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(BareUploadBenchmark).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;
            k.Listen(IPAddress.Loopback, 0, e => e.Protocols = HttpProtocols.Http2);
        });
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, EmbeddedHostLifetime>();
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = options.ChunkBytes + 1024);
        await using var app = builder.Build();
        app.MapGrpcService<CountingService>();
        await app.StartAsync(cancellationToken);
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        // Bytes of the payload the gateway run sends (an identity payload of PayloadBytes / 4 floats).
        var payload = new byte[options.PayloadBytes / 4 * 4 + 64];
        new Random(1).NextBytes(payload);
        var channels = Enumerable.Range(0, options.Clients).Select(_ => GrpcChannel.ForAddress(address)).ToArray();
        try
        {
            long start = 0;
            for (int round = 0; round <= options.Rounds; round++)
            {
                if (round == 1) start = Stopwatch.GetTimestamp();
                await Task.WhenAll(channels.Select(channel => UploadAsync(new BareUpload.BareUploadClient(channel), payload, options.ChunkBytes, cancellationToken)));
            }
            double wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
            double updates = (double)options.Clients * options.Rounds;
            return (updates / wall, updates * payload.Length / (1024 * 1024) / wall);
        }
        finally
        {
            foreach (var channel in channels) channel.Dispose();
            await app.StopAsync(CancellationToken.None);
        }
    }

    private static async Task UploadAsync(BareUpload.BareUploadClient client, byte[] payload, int chunk, CancellationToken cancellationToken)
    {
        using var call = client.Upload(cancellationToken: cancellationToken);
        for (int at = 0; at < payload.Length; at += chunk)
            await call.RequestStream.WriteAsync(new BareChunk { Data = UnsafeByteOperations.UnsafeWrap(payload.AsMemory(at, Math.Min(chunk, payload.Length - at))) }, cancellationToken);
        await call.RequestStream.CompleteAsync();
        var ack = await call.ResponseAsync;
        if (ack.ReceivedBytes != payload.Length) throw new InvalidOperationException($"The bare service counted {ack.ReceivedBytes} of {payload.Length} bytes.");
    }

    private sealed class CountingService : BareUpload.BareUploadBase
    {
        public override async Task<BareAck> Upload(IAsyncStreamReader<BareChunk> requestStream, ServerCallContext context)
        {
            long received = 0;
            while (await requestStream.MoveNext(context.CancellationToken)) received += requestStream.Current.Data.Length;
            return new BareAck { ReceivedBytes = received };
        }
    }
}
