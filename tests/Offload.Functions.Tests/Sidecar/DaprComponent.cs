using YamlDotNet.RepresentationModel;

namespace Offload.Functions.Tests.Sidecar;

/// <summary>
/// A Dapr component file as daprd loads it: name, type, metadata and scopes. The stand-in reads the
/// repository's own files (dapr-components/), so a setting changed there changes what the tests see.
/// </summary>
public sealed record DaprComponent(string Name, string Type, IReadOnlyDictionary<string, string> Metadata, IReadOnlyList<string> Scopes)
{
    /// <summary>Whether <paramref name="appId"/> may use the component (no scopes: every app).</summary>
    public bool Serves(string appId) => Scopes.Count == 0 || Scopes.Contains(appId);

    /// <summary>Whether this state store holds actor state (<c>actorStateStore: "true"</c>).</summary>
    public bool IsActorStateStore => Metadata.TryGetValue("actorStateStore", out var v) && string.Equals(v, "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The key daprd stores <paramref name="key"/> under for <paramref name="appId"/>, by the component's
    /// <c>keyPrefix</c> (dapr/dapr pkg/components/state/state_config.go): <c>appid</c> (the default) and
    /// <c>namespace</c> without a namespace give <c>{appId}||key</c>; <c>name</c> gives
    /// <c>{component}||key</c>; <c>none</c> gives the key itself; any other value is a fixed prefix.
    /// </summary>
    public string StateKey(string appId, string key)
    {
        string strategy = Metadata.TryGetValue("keyPrefix", out var p) ? p : "appid";
        return strategy.ToLowerInvariant() switch
        {
            "appid" or "namespace" or "" => $"{appId}||{key}",
            "name" => $"{Name}||{key}",
            "none" => key,
            _ => $"{strategy}||{key}",
        };
    }

    /// <summary>The components (<c>kind: Component</c>) in the YAML files of <paramref name="directory"/>, not its subfolders.</summary>
    public static List<DaprComponent> Load(string directory)
    {
        var components = new List<DaprComponent>();
        foreach (string file in Directory.GetFiles(directory, "*.yaml").Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(file)) stream.Load(reader);
            foreach (var document in stream.Documents)
            {
                if (document.RootNode is not YamlMappingNode root || Scalar(root, "kind") != "Component") continue;
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                if (Child(root, "spec") is YamlMappingNode spec && Child(spec, "metadata") is YamlSequenceNode entries)
                    foreach (var entry in entries.Children.OfType<YamlMappingNode>())
                        metadata[Scalar(entry, "name") ?? ""] = Scalar(entry, "value") ?? "";
                var scopes = Child(root, "scopes") is YamlSequenceNode s ? s.Children.OfType<YamlScalarNode>().Select(c => c.Value!).ToList() : [];
                components.Add(new DaprComponent(Scalar((YamlMappingNode)Child(root, "metadata")!, "name")!, Scalar((YamlMappingNode)Child(root, "spec")!, "type")!, metadata, scopes));
            }
        }
        return components;
    }

    private static YamlNode? Child(YamlMappingNode node, string key) => node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;

    private static string? Scalar(YamlMappingNode node, string key) => (Child(node, key) as YamlScalarNode)?.Value;
}
