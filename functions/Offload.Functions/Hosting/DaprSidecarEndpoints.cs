namespace Offload.Functions.Hosting;

/// <summary>Where an app reaches its Dapr sidecar.</summary>
/// <param name="HttpEndpoint">The sidecar's HTTP API (actors), e.g. <c>http://127.0.0.1:3500</c>.</param>
/// <param name="GrpcEndpoint">The sidecar's gRPC API (publish, state), e.g. <c>http://127.0.0.1:50001</c>.</param>
public sealed record DaprSidecarEndpoints(string HttpEndpoint, string GrpcEndpoint)
{
    /// <summary>
    /// The endpoints <c>dapr run</c> and the Kubernetes injector announce: <c>DAPR_HTTP_ENDPOINT</c> and
    /// <c>DAPR_GRPC_ENDPOINT</c>, else <c>http://127.0.0.1:</c> with <c>DAPR_HTTP_PORT</c> (3500) and
    /// <c>DAPR_GRPC_PORT</c> (50001). Read here rather than left to the SDK because its actor client,
    /// given <c>DAPR_HTTP_ENDPOINT</c>, asks for <c>//v1.0/...</c> (a trailing slash plus a rooted path),
    /// which a sidecar does not route.
    /// </summary>
    public static DaprSidecarEndpoints FromEnvironment()
    {
        static string? Read(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
        string http = Read("DAPR_HTTP_ENDPOINT") ?? $"http://127.0.0.1:{Read("DAPR_HTTP_PORT") ?? "3500"}";
        string grpc = Read("DAPR_GRPC_ENDPOINT") ?? $"http://127.0.0.1:{Read("DAPR_GRPC_PORT") ?? "50001"}";
        return new DaprSidecarEndpoints(http.TrimEnd('/'), grpc.TrimEnd('/'));
    }
}
