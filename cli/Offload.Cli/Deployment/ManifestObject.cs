using YamlDotNet.RepresentationModel;

namespace Offload.Cli.Deployment;

/// <summary>One object of a rendered overlay: its kind and name, its YAML text and its node tree.</summary>
/// <param name="Kind">The object's <c>kind</c>.</param>
/// <param name="Name">Its <c>metadata.name</c>.</param>
/// <param name="Namespace">Its <c>metadata.namespace</c>, or null.</param>
/// <param name="Text">The document's YAML, for typed parsing.</param>
/// <param name="Node">The document's root mapping, for kinds the Kubernetes models do not know (Dapr's and KEDA's).</param>
public sealed record ManifestObject(string Kind, string Name, string? Namespace, string Text, YamlMappingNode Node)
{
    /// <summary>How findings name it: <c>Kind/name</c>.</summary>
    public override string ToString() => $"{Kind}/{Name}";
}
