using System.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Offload.Cli.Deployment;

/// <summary>
/// The objects a kustomize overlay renders to, as <c>kubectl kustomize</c> prints them: what
/// <c>kubectl apply -k</c> would send to the API server, read without a cluster.
/// </summary>
public sealed class RenderedOverlay
{
    private RenderedOverlay(string name, string yaml, IReadOnlyList<ManifestObject> objects)
    {
        Name = name;
        Yaml = yaml;
        Objects = objects;
    }

    /// <summary>The overlay's name (its folder's name).</summary>
    public string Name { get; }

    /// <summary>The rendered YAML, as printed.</summary>
    public string Yaml { get; }

    /// <summary>Its objects, in rendered order.</summary>
    public IReadOnlyList<ManifestObject> Objects { get; }

    /// <summary>Renders <paramref name="directory"/> with <c>kubectl kustomize</c>.</summary>
    /// <exception cref="InvalidOptionException">kubectl is missing, or the overlay does not render (its error is in the message).</exception>
    public static RenderedOverlay Render(string directory, TimeSpan? timeout = null)
    {
        if (!File.Exists(Path.Combine(directory, "kustomization.yaml")))
            throw new InvalidOptionException($"'{directory}' holds no kustomization.yaml.");
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("kustomize");
        start.ArgumentList.Add(directory);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOptionException("kubectl could not be started.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOptionException($"kubectl is not on PATH ({e.Message}): install kubectl (it renders overlays with its built-in kustomize), then rerun.");
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOptionException($"kubectl kustomize {directory} did not finish within {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds:0} s.");
            }
            if (process.ExitCode != 0)
                throw new InvalidOptionException($"kubectl kustomize {directory} failed (exit {process.ExitCode}): {error.Result.Trim()}");
            return Parse(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))), output.Result);
        }
    }

    /// <summary>Reads rendered YAML (documents separated by <c>---</c>).</summary>
    /// <exception cref="InvalidDataException">A document is not YAML, or lacks a kind or a name.</exception>
    public static RenderedOverlay Parse(string name, string yaml)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var objects = new List<ManifestObject>();
        foreach (string document in yaml.Split(["\n---\n", "\r\n---\r\n"], StringSplitOptions.None))
        {
            string text = document.StartsWith("---", StringComparison.Ordinal) ? document[3..] : document;
            if (string.IsNullOrWhiteSpace(text)) continue;
            var stream = new YamlStream();
            try
            {
                stream.Load(new StringReader(text));
            }
            catch (YamlException e)
            {
                throw new InvalidDataException($"{name}: a document is not valid YAML ({e.Message}).", e);
            }
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root) continue;
            string kind = ManifestYaml.Scalar(root, "kind") ?? throw new InvalidDataException($"{name}: a document has no kind.");
            string objectName = ManifestYaml.Scalar(root, "metadata", "name") ?? throw new InvalidDataException($"{name}: a {kind} has no metadata.name.");
            objects.Add(new ManifestObject(kind, objectName, ManifestYaml.Scalar(root, "metadata", "namespace"), text, root));
        }
        return new RenderedOverlay(name, yaml, objects);
    }
}
