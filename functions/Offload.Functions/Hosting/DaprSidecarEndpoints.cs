namespace Offload.Functions.Hosting;

/// <summary>Where an app reaches its Dapr sidecar when the environment variables <c>dapr run</c> sets are not used.</summary>
/// <param name="HttpEndpoint">The sidecar's HTTP API (actors), e.g. <c>http://127.0.0.1:3500</c>.</param>
/// <param name="GrpcEndpoint">The sidecar's gRPC API (publish, state), e.g. <c>http://127.0.0.1:50001</c>.</param>
public sealed record DaprSidecarEndpoints(string HttpEndpoint, string GrpcEndpoint);
