using YamlDotNet.RepresentationModel;

namespace Offload.Functions.Tests.Deployment;

/// <summary>Reads the repository's YAML: each document as text (for typed parsing) and as a node tree.</summary>
internal static class Manifests
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>The documents of a multi-document file, as (text, root mapping).</summary>
    public static List<(string Text, YamlMappingNode Node)> Documents(string file)
    {
        var text = File.ReadAllText(file);
        var parts = System.Text.RegularExpressions.Regex.Split(text, @"^---\s*$", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Where(p => p.Split('\n').Any(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#')))
            .ToList();
        var result = new List<(string, YamlMappingNode)>();
        foreach (var part in parts)
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(part));
            result.Add((part, (YamlMappingNode)stream.Documents[0].RootNode));
        }
        return result;
    }

    public static YamlMappingNode Single(string file) => Documents(file).Single().Node;

    public static string Scalar(this YamlNode node, params string[] path)
    {
        var current = node;
        foreach (var key in path)
            current = ((YamlMappingNode)current).Children[new YamlScalarNode(key)];
        return ((YamlScalarNode)current).Value!;
    }

    public static YamlNode Child(this YamlNode node, params string[] path)
    {
        var current = node;
        foreach (var key in path) current = ((YamlMappingNode)current).Children[new YamlScalarNode(key)];
        return current;
    }

    /// <summary>A component's metadata entries (name to value).</summary>
    public static Dictionary<string, string> ComponentMetadata(YamlMappingNode component) =>
        ((YamlSequenceNode)component.Child("spec", "metadata")).Children.ToDictionary(e => e.Scalar("name"), e => e.Scalar("value"));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Offload.sln"))) return dir.FullName;
        throw new InvalidOperationException("The repository root (Offload.sln) is not above the test's directory.");
    }
}
