using YamlDotNet.RepresentationModel;

namespace Offload.Functions.Tests.Deployment;

/// <summary>Edits to a parsed manifest, as an operator's hand would make them.</summary>
internal static class YamlEdits
{
    /// <summary>Sets <paramref name="key"/> to the scalar <paramref name="value"/>.</summary>
    public static void Set(this YamlMappingNode node, string key, string value) => node.Children[new YamlScalarNode(key)] = new YamlScalarNode(value);
}
