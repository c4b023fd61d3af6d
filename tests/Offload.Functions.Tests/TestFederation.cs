using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Client.Federation;
using Offload.Core.Model;
using Offload.Core.Protos;
using Offload.Gateway.Authentication;
using Offload.Gateway.Hosting;
using Offload.Gateway.Service;

namespace Offload.Functions.Tests;

/// <summary>A gateway on a real Kestrel server on a free loopback port, with its coordinator, store and bus.</summary>
internal sealed class TestFederation : IAsyncDisposable
{
    private readonly List<IDisposable> _owned = [];

    private TestFederation(InMemoryUpdateStore store, InProcessEventBus bus, SynchronousRoundCoordinator coordinator, GatewayServer server, ClientTokens tokens)
    {
        Store = store;
        Bus = bus;
        Coordinator = coordinator;
        Server = server;
        Tokens = tokens;
    }

    public InMemoryUpdateStore Store { get; }
    public InProcessEventBus Bus { get; }
    public SynchronousRoundCoordinator Coordinator { get; }
    public GatewayServer Server { get; }
    public ClientTokens Tokens { get; }
    public TensorLayout Layout => Coordinator.Layout;

    public static string TokenOf(int client) => $"test-token-{client:D4}";

    public static string ClientIdOf(int client) => $"device-{client:D4}";

    /// <summary>A one-tensor layout of <paramref name="parameters"/> floats, for tests that need no real model.</summary>
    public static TensorLayout FlatLayout(int parameters) => TensorLayout.Create([("w", new[] { parameters })]);

    /// <param name="serve">Wraps the coordinator the gateway talks to (fault injection); null serves the coordinator itself.</param>
    /// <param name="time">The gateway's clock; null for the system's.</param>
    /// <param name="port">The loopback port to listen on; 0 takes any free one.</param>
    public static async Task<TestFederation> StartAsync(TensorLayout layout, float[] initial, RoundOptions rounds, int clients,
        GatewayOptions? gateway = null, Func<IRoundCoordinator, IRoundCoordinator>? serve = null, TimeProvider? time = null, int port = 0)
    {
        var store = new InMemoryUpdateStore();
        var bus = new InProcessEventBus();
        var coordinator = new SynchronousRoundCoordinator(layout, initial, rounds, store, bus);
        var tokens = new ClientTokens();
        for (int i = 0; i < clients; i++) tokens.Add(ClientIdOf(i), TokenOf(i));
        coordinator.Start();
        var server = await GatewayServer.StartAsync(gateway ?? new GatewayOptions(), new GatewayListenOptions { Port = port }, tokens,
            serve is null ? coordinator : serve(coordinator), store, bus,
            configureServices: time is null ? null : services => services.AddSingleton(time));
        return new TestFederation(store, bus, coordinator, server, tokens);
    }

    /// <summary>The SDK client for device <paramref name="client"/>.</summary>
    public FederatedClient Client(int client, Func<FederatedClientOptions, FederatedClientOptions>? configure = null)
    {
        var builder = new FederatedClientBuilder(Server.Address).WithToken(TokenOf(client))
            .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(500) });
        if (configure is not null) builder.Configure(configure);
        var built = builder.Build();
        lock (_owned) _owned.Add(built); // Clients are made from concurrent tasks.
        return built;
    }

    /// <summary>The generated stub, for tests that send what the SDK never would.</summary>
    public Core.Protos.Federation.FederationClient Raw()
    {
        var channel = GrpcChannel.ForAddress(Server.Address);
        lock (_owned) _owned.Add(channel);
        return new Core.Protos.Federation.FederationClient(channel);
    }

    public static CallOptions As(int client) => new(new Metadata { { "authorization", "Bearer " + TokenOf(client) } });

    public async ValueTask DisposeAsync()
    {
        foreach (var d in _owned) d.Dispose();
        await Server.DisposeAsync();
        await Coordinator.DisposeAsync();
        await Bus.DisposeAsync();
    }
}
