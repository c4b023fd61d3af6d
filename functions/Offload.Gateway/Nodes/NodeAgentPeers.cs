using System.Collections.Concurrent;
using Grpc.Net.Client;
using Offload.Aggregator.Storage;
using Offload.Core.Protos.Node;

namespace Offload.Gateway.Nodes;

/// <summary>
/// The other nodes' agents, by node name (<c>--node-peer NAME=URL</c>): the cross-node hop over
/// gRPC. One channel per node, opened at first use and kept (HTTP/2 multiplexes the pulls).
/// </summary>
public sealed class NodeAgentPeers : IRemoteObjects, IDisposable
{
    private readonly IReadOnlyDictionary<string, Uri> _agents;
    private readonly ConcurrentDictionary<string, Lazy<GrpcChannel>> _channels = new(StringComparer.Ordinal);

    /// <summary>Peers at <paramref name="agents"/> (node name to the agent's address, http or https).</summary>
    /// <exception cref="ArgumentException">An address is not absolute http(s).</exception>
    public NodeAgentPeers(IReadOnlyDictionary<string, Uri> agents)
    {
        ArgumentNullException.ThrowIfNull(agents);
        foreach (var (node, uri) in agents)
            if (uri is null || !uri.IsAbsoluteUri || uri.Scheme is not ("http" or "https"))
                throw new ArgumentException($"The agent of node '{node}' must be an absolute http:// or https:// address (got '{uri}').", nameof(agents));
        _agents = new Dictionary<string, Uri>(agents, StringComparer.Ordinal);
    }

    /// <inheritdoc/>
    public bool Knows(string node) => node is not null && _agents.ContainsKey(node);

    /// <inheritdoc/>
    public Task<long> PullAsync(string node, UpdateReference reference, IUpdateStore destination, CancellationToken cancellationToken = default) =>
        ObjectPull.PullAsync(AgentOf(node), reference, destination, cancellationToken);

    /// <inheritdoc/>
    public async Task<bool> DeleteAsync(string node, UpdateReference reference, CancellationToken cancellationToken = default)
    {
        var reply = await AgentOf(node).DeleteObjectAsync(new DeleteObjectRequest { Key = reference.Key }, cancellationToken: cancellationToken).ConfigureAwait(false);
        return reply.Deleted;
    }

    private NodeAgent.NodeAgentClient AgentOf(string node)
    {
        if (!_agents.TryGetValue(node, out var address)) throw new KeyNotFoundException($"No node agent is known for node '{node}'.");
        var channel = _channels.GetOrAdd(node, _ => new Lazy<GrpcChannel>(() => GrpcChannel.ForAddress(address))).Value;
        return new NodeAgent.NodeAgentClient(channel);
    }

    /// <summary>Closes the channels.</summary>
    public void Dispose()
    {
        foreach (var channel in _channels.Values)
            if (channel.IsValueCreated) channel.Value.Dispose();
        _channels.Clear();
    }
}
