using YamlDotNet.RepresentationModel;

namespace Offload.Cli.Deployment;

/// <summary>Paths into a manifest's node tree, for the kinds the Kubernetes models do not know (Dapr's, KEDA's).</summary>
internal static class ManifestYaml
{
    /// <summary>The node at <paramref name="path"/> under <paramref name="node"/>, or null where a key is missing.</summary>
    public static YamlNode? Node(YamlMappingNode node, params string[] path)
    {
        YamlNode? current = node;
        foreach (string key in path)
            current = current is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode(key), out var next) ? next : null;
        return current;
    }

    /// <summary>The scalar at <paramref name="path"/>, or null.</summary>
    public static string? Scalar(YamlMappingNode node, params string[] path) => (Node(node, path) as YamlScalarNode)?.Value;

    /// <summary>The mappings of the sequence at <paramref name="path"/> (triggers, metadata entries); empty where there is none.</summary>
    public static IEnumerable<YamlMappingNode> Mappings(YamlMappingNode node, params string[] path) =>
        (Node(node, path) as YamlSequenceNode)?.Children.OfType<YamlMappingNode>() ?? [];

    /// <summary>The scalars of the sequence at <paramref name="key"/> (a component's scopes); empty where there is none.</summary>
    public static List<string> Strings(YamlMappingNode node, string key) =>
        (Node(node, key) as YamlSequenceNode)?.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? "").ToList() ?? [];

    /// <summary>A Dapr component's plain metadata entries, name to value (entries from a secret have no value and are left out).</summary>
    public static Dictionary<string, string> ComponentMetadata(YamlMappingNode component)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in Mappings(component, "spec", "metadata"))
            if (Scalar(entry, "name") is { } name && Scalar(entry, "value") is { } value) result[name] = value;
        return result;
    }
}
