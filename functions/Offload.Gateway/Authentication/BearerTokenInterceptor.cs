using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Offload.Gateway.Authentication;

/// <summary>
/// Authenticates every call but <c>Enroll</c> by its <c>authorization: Bearer &lt;token&gt;</c> header and
/// puts the caller's <see cref="ClientIdentity"/> into <see cref="ServerCallContext.UserState"/>;
/// a missing or unknown token ends the call with <see cref="StatusCode.Unauthenticated"/> before the
/// service sees it.
/// </summary>
internal sealed class BearerTokenInterceptor(ClientTokens tokens) : Interceptor
{
    /// <summary>The key of the caller's identity in <see cref="ServerCallContext.UserState"/>.</summary>
    public const string IdentityKey = "offload-client";

    private const string EnrollMethod = "/offload.federation.v1.Federation/Enroll";

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Authenticate(ServerCallContext context)
    {
        if (context.Method == EnrollMethod) return;
        string? header = context.RequestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            throw new RpcException(new Status(StatusCode.Unauthenticated, "A bearer token is required: send 'authorization: Bearer <token>'."));
        var identity = tokens.Resolve(header["Bearer ".Length..].Trim())
            ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "The bearer token is not valid for this gateway."));
        context.UserState[IdentityKey] = identity;
    }
}
