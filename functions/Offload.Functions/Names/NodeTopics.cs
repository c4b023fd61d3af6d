namespace Offload.Functions.Names;

/// <summary>
/// The per-node topics that carry out placement on Dapr, whose pub/sub consumer groups are
/// locality-blind: with node stores, an update's <c>UpdateArrived</c>, a partial's <c>PartialReady</c>
/// and a leaf's <c>AggregatorDue</c> travel on <c>{topic}.{node}</c>, which only the functions on
/// that node subscribe to (their node name comes from <c>NODE_NAME</c>, the downward API in
/// Kubernetes), so an update is folded on the node whose shared memory holds it.
/// </summary>
public static class NodeTopics
{
    /// <summary>Longest node name accepted (a Kubernetes node name is a DNS subdomain; ours stay shorter, they are key and topic segments).</summary>
    public const int MaxNodeLength = 128;

    /// <summary>The topic of <paramref name="topic"/>'s events for <paramref name="node"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="node"/> is not a node name (<see cref="NodeProblem"/>).</exception>
    public static string For(string topic, string node)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        if (NodeProblem(node, "node") is { } problem) throw new ArgumentException(problem, nameof(node));
        return $"{topic}.{node}";
    }

    /// <summary>
    /// Why <paramref name="node"/> cannot name a node, or null: 1 to <see cref="MaxNodeLength"/>
    /// ASCII letters, digits, '-', '_' or '.', as Kubernetes node names and host names are, since it
    /// becomes part of a topic name. <paramref name="field"/> names the field in the message.
    /// </summary>
    public static string? NodeProblem(string? node, string field)
    {
        if (string.IsNullOrEmpty(node)) return $"{field} is missing.";
        if (node.Length > MaxNodeLength) return $"{field} holds {node.Length} characters; a node name has at most {MaxNodeLength}.";
        foreach (char c in node)
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
                return $"{field} '{node}' must be ASCII letters, digits, '-', '_' or '.' (a node name).";
        return null;
    }
}
