using Offload.Cli.Deployment;
using Offload.Functions.Names;
using YamlDotNet.RepresentationModel;

namespace Offload.Functions.Tests.Deployment;

/// <summary>
/// k8s/: every overlay renders (kubectl kustomize, as <c>kubectl apply -k</c> would) and passes
/// <see cref="DeploymentCheck"/>, whose every check is shown to fire on a manifest broken the way an
/// operator's edit would break it; and the cluster's Dapr components hold dapr-components/' settings.
/// </summary>
public sealed class KubernetesManifestTests
{
    public static TheoryData<string> Overlays => new(Directory.GetDirectories(Manifests.Path("k8s", "overlays")).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal));

    private static readonly Dictionary<string, RenderedOverlay> Rendered = new();

    /// <summary>The overlay rendered once per test run (kubectl kustomize takes a fraction of a second each).</summary>
    internal static RenderedOverlay Render(string overlay)
    {
        lock (Rendered)
        {
            if (!Rendered.TryGetValue(overlay, out var rendered))
                Rendered[overlay] = rendered = RenderedOverlay.Render(Manifests.Path("k8s", "overlays", overlay));
            return rendered;
        }
    }

    [Fact]
    public void The_overlays_are_the_documented_three()
    {
        Assert.Equal(["dev", "dev-async", "prod"], ((IEnumerable<object[]>)Overlays).Select(o => (string)o[0]));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_overlay_passes_every_check(string overlay)
    {
        var report = DeploymentCheck.Run(Render(overlay), Offload.Cli.Commands.ServeCommand.Plan);
        Assert.True(report.Passed, string.Join("\n", report.Findings));
        Assert.Equal(DeploymentCheck.Rules, report.Rules);
        // What each overlay is for: dev renders its Redis and secrets, prod leaves them to the operator.
        Assert.Equal(overlay == "prod" ? ["offload-gateway-tls", "offload-redis", "offload-tokens"] : [], report.ExternalSecrets);
        var deployments = Render(overlay).Objects.Where(o => o.Kind is "Deployment" or "DaemonSet").Select(o => o.Name).Order().ToList();
        List<string> expected = overlay switch
        {
            "dev" => [DaprNames.FunctionsAppId, DaprNames.GatewayAppId, "redis"],
            "dev-async" => [DaprNames.FunctionsAppId, DaprNames.CorrectorAppId, DaprNames.GatewayAppId, "redis"],
            _ => [DaprNames.FunctionsAppId, DaprNames.GatewayAppId, "offload-node-agent"],
        };
        Assert.Equal(expected, deployments);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_rendering_docs_deploy_shows_is_what_the_overlay_renders_now(string overlay)
    {
        string committed = Manifests.Path("docs", "deploy", overlay + ".yaml");
        Assert.True(File.Exists(committed) && File.ReadAllText(committed) == Render(overlay).Yaml,
            $"docs/deploy/{overlay}.yaml is not what k8s/overlays/{overlay} renders now: run `offload deploy check --out docs/deploy` and commit what it writes");
    }

    [Fact]
    public void The_clusters_components_hold_the_local_components_settings()
    {
        var rendered = Render("dev");
        var components = rendered.Objects.Where(o => o.Kind == "Component").ToDictionary(o => o.Name, o => o.Node);
        Assert.Equal([DaprNames.ActorStateStore, DaprNames.PubSub, DaprNames.StateStore], components.Keys.Order());
        var local = DaprComponentsTests.Components(Manifests.Path("dapr-components"));
        var redis = rendered.Objects.Single(o => o.Kind == "Service" && o.Name == "redis").Node;
        foreach (var (name, inCluster) in components)
        {
            Assert.True(local.ContainsKey(name), $"{name} is deployed but not in dapr-components/");
            Assert.Equal(local[name].Scalar("spec", "type"), inCluster.Scalar("spec", "type"));
            Assert.Equal(Manifests.Scopes(local[name]), Manifests.Scopes(inCluster));
            var entries = ((YamlSequenceNode)inCluster.Child("spec", "metadata")).Children.ToDictionary(e => e.Scalar("name"));
            var localSettings = Manifests.ComponentMetadata(local[name]);
            Assert.Equal(localSettings.Keys.Order(), entries.Keys.Order());
            // Same settings; only where Redis is and how its password is found differ between a laptop and the cluster.
            foreach (var (key, value) in localSettings.Where(e => e.Key is not ("redisHost" or "redisPassword")))
                Assert.True(value == entries[key].Scalar("value"), $"{name}: {key} is '{entries[key].Scalar("value")}' in k8s/ but '{value}' in dapr-components/");
            Assert.Equal($"{redis.Scalar("metadata", "name")}:{((YamlSequenceNode)redis.Child("spec", "ports")).Children[0].Scalar("port")}", entries["redisHost"].Scalar("value"));
            Assert.Equal(("offload-redis", "password"), (entries["redisPassword"].Scalar("secretKeyRef", "name"), entries["redisPassword"].Scalar("secretKeyRef", "key")));
            Assert.Equal("kubernetes", inCluster.Scalar("auth", "secretStore"));
        }
        var resiliency = rendered.Objects.Single(o => o.Kind == "Resiliency").Node;
        DaprComponentsTests.AssertResiliency(resiliency);
        // kustomize adds the namespace and the part-of label, and sorts the keys; nothing else may differ.
        static bool Setting(string line) => !line.StartsWith("/metadata/namespace", StringComparison.Ordinal) && !line.StartsWith("/metadata/labels", StringComparison.Ordinal);
        Assert.Equal(Manifests.Flatten(Manifests.Single(Manifests.Path("dapr-components", "resiliency.yaml"))).Where(Setting).Order(StringComparer.Ordinal),
            Manifests.Flatten(resiliency).Where(Setting).Order(StringComparer.Ordinal));
    }
}
