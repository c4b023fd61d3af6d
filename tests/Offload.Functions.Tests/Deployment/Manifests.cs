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

    /// <summary>Whether a mapping has <paramref name="key"/>.</summary>
    public static bool Has(this YamlNode node, string key) =>
        node is YamlMappingNode mapping && mapping.Children.ContainsKey(new YamlScalarNode(key));

    /// <summary>The keys of a mapping, in file order.</summary>
    public static List<string> Keys(this YamlNode node) =>
        ((YamlMappingNode)node).Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToList();

    /// <summary>The values of a sequence of scalars.</summary>
    public static List<string> Strings(this YamlNode node) =>
        ((YamlSequenceNode)node).Children.Select(c => ((YamlScalarNode)c).Value!).ToList();

    /// <summary>A component's scopes (the app ids that load it), sorted.</summary>
    public static List<string> Scopes(YamlMappingNode component) => component.Child("scopes").Strings().Order().ToList();

    /// <summary>
    /// Every scalar of a document as "path=value", in order: two documents flatten alike exactly when
    /// they hold the same settings, whatever their comments and layout.
    /// </summary>
    public static List<string> Flatten(YamlNode node)
    {
        var lines = new List<string>();
        Walk(node, "", lines);
        return lines;

        static void Walk(YamlNode node, string path, List<string> lines)
        {
            switch (node)
            {
                case YamlScalarNode scalar:
                    lines.Add($"{path}={scalar.Value}");
                    break;
                case YamlSequenceNode sequence:
                    for (int i = 0; i < sequence.Children.Count; i++) Walk(sequence.Children[i], $"{path}[{i}]", lines);
                    break;
                case YamlMappingNode mapping:
                    foreach (var (key, value) in mapping.Children) Walk(value, $"{path}/{((YamlScalarNode)key).Value}", lines);
                    break;
            }
        }
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
