namespace Offload.Functions.Tests.Sidecar;

/// <summary>A temporary component folder: the repository's pub/sub and one state store as a test wants it; deleted on dispose.</summary>
internal sealed class ComponentsFolder : IDisposable
{
    private ComponentsFolder(string path) => Path = path;

    public string Path { get; }

    /// <summary>
    /// <c>offload-state</c> with <paramref name="keyPrefix"/> (null: none set, so daprd's appid default),
    /// the actor flag when <paramref name="actorStateStore"/>, scoped to <paramref name="scopes"/>.
    /// </summary>
    public static ComponentsFolder WithStateStore(string? keyPrefix, bool actorStateStore, params string[] scopes)
    {
        string dir = Directory.CreateTempSubdirectory("offload-components").FullName;
        File.Copy(Deployment.Manifests.Path("dapr-components", "pubsub.yaml"), System.IO.Path.Combine(dir, "pubsub.yaml"));
        var lines = new List<string>
        {
            "apiVersion: dapr.io/v1alpha1", "kind: Component", "metadata:", "  name: offload-state", "spec:", "  type: state.redis", "  version: v1", "  metadata:",
            "    - name: redisHost", "      value: localhost:6379",
        };
        if (keyPrefix is not null) lines.AddRange(["    - name: keyPrefix", $"      value: {keyPrefix}"]);
        if (actorStateStore) lines.AddRange(["    - name: actorStateStore", "      value: \"true\""]);
        lines.Add("scopes:");
        lines.AddRange(scopes.Select(s => $"  - {s}"));
        File.WriteAllLines(System.IO.Path.Combine(dir, "statestore.yaml"), lines);
        return new ComponentsFolder(dir);
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
