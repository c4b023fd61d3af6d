namespace Offload.Cli.Serving;

/// <summary>What one <c>offload serve</c> process is in a deployment.</summary>
public enum ServeRole
{
    /// <summary>The gRPC gateway devices talk to (with an in-process or the Dapr aggregator).</summary>
    Gateway,

    /// <summary><c>serve --dapr</c>: the aggregator functions' Dapr app.</summary>
    Functions,

    /// <summary><c>serve --dapr --corrector NAME</c>: the corrector app of asynchronous serving.</summary>
    Corrector,

    /// <summary><c>serve --node-agent</c>: the owner of a node's shared-memory store.</summary>
    NodeAgent,
}
