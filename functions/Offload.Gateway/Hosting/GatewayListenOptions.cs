using System.Net;

namespace Offload.Gateway.Hosting;

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
    /// An extra HTTP/1.1 port on <see cref="Address"/>: the port a sidecar delivers events to (e.g.
    /// <c>ModelPublished</c>); null for none. The host that sets it maps its routes with
    /// <see cref="GatewayServer.StartAsync"/>'s <c>configureApp</c> and answers them on this port only,
    /// so devices on the gRPC port cannot post events.
    /// </summary>
    public int? SidecarAppPort { get; init; }

    /// <summary>Throws when a port is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A port is outside 0..65535, or the sidecar app port is 0 or equals the gRPC port.</exception>
    public GatewayListenOptions Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(Port), Port, "The port must be in 0..65535.");
        if (SidecarAppPort is < 1 or > 65535) throw new ArgumentOutOfRangeException(nameof(SidecarAppPort), SidecarAppPort, "The sidecar app port must be in 1..65535.");
        if (SidecarAppPort is int app && app == Port) throw new ArgumentOutOfRangeException(nameof(SidecarAppPort), SidecarAppPort, "The sidecar app port must differ from the gRPC port.");
        ArgumentNullException.ThrowIfNull(Address);
        return this;
    }
}
