using System.Net;

namespace Offload.Functions.Hosting;

/// <summary>
/// Where <see cref="GatewayServer"/> listens. With a <see cref="Port"/> it binds one cleartext HTTP/2
/// endpoint (h2c) on <see cref="Address"/>; port 0 picks a free port. Without one, Kestrel takes its
/// endpoints, TLS certificates included, from <see cref="Configuration"/> (the standard
/// <c>Kestrel:Endpoints</c> section, e.g. from appsettings.json or <c>Kestrel__Endpoints__...</c>
/// environment variables; see docs/grpc.md).
/// </summary>
public sealed record GatewayListenOptions
{
    /// <summary>The address to bind with <see cref="Port"/>; loopback by default.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>The port, 0 for any free one; null to take endpoints from configuration.</summary>
    public int? Port { get; init; } = 0;

    /// <summary>Extra configuration for the host (Kestrel endpoints and limits, logging); environment variables are always read.</summary>
    public IReadOnlyDictionary<string, string?>? Configuration { get; init; }

    /// <summary>JSON configuration files to read, in order (e.g. one with a <c>Kestrel:Endpoints</c> section and certificates).</summary>
    public IReadOnlyList<string> JsonFiles { get; init; } = [];

    /// <summary>
    /// The Dapr app port (HTTP/1.1 on <see cref="Address"/>) where the gateway's sidecar delivers
    /// <c>ModelPublished</c>, when the gateway runs in the Dapr deployment; null otherwise. Its routes
    /// answer on this port only, so devices on the gRPC port cannot post events.
    /// </summary>
    public int? DaprAppPort { get; init; }

    /// <summary>Throws when a port is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A port is outside 0..65535, or the Dapr app port is 0 or equals the gRPC port.</exception>
    public GatewayListenOptions Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(Port), Port, "The port must be in 0..65535.");
        if (DaprAppPort is < 1 or > 65535) throw new ArgumentOutOfRangeException(nameof(DaprAppPort), DaprAppPort, "The Dapr app port must be in 1..65535.");
        if (DaprAppPort is int app && app == Port) throw new ArgumentOutOfRangeException(nameof(DaprAppPort), DaprAppPort, "The Dapr app port must differ from the gRPC port.");
        ArgumentNullException.ThrowIfNull(Address);
        return this;
    }
}
