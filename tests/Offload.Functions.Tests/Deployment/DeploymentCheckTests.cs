using Offload.Cli.Commands;
using Offload.Cli.Deployment;
using Offload.Functions.Names;
using YamlDotNet.RepresentationModel;

namespace Offload.Functions.Tests.Deployment;

/// <summary>
/// Each check of <see cref="DeploymentCheck"/> fires on a rendered overlay broken the way an edit
/// would break it, and names the rule; the unbroken overlays pass (<see cref="KubernetesManifestTests"/>).
/// </summary>
public sealed class DeploymentCheckTests
{
    /// <summary>A change to one rendered object (null: the object is removed).</summary>
    public delegate void Change(YamlMappingNode node);

    private static RenderedOverlay Mutated(string overlay, string kind, string name, Change? change)
    {
        var rendered = KubernetesManifestTests.Render(overlay);
        Assert.Contains(rendered.Objects, o => o.Kind == kind && o.Name == name);
        var documents = new List<string>();
        foreach (var o in rendered.Objects)
        {
            if (o.Kind != kind || o.Name != name) { documents.Add(o.Text); continue; }
            if (change is null) continue;
            var stream = new YamlStream();
            stream.Load(new StringReader(o.Text));
            var root = (YamlMappingNode)stream.Documents[0].RootNode;
            change(root);
            var writer = new StringWriter();
            new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
            documents.Add(writer.ToString().Replace("\n...\n", "\n", StringComparison.Ordinal));
        }
        return RenderedOverlay.Parse(overlay, string.Join("\n---\n", documents));
    }

    private static YamlMappingNode Map(YamlNode node, params string[] path)
    {
        foreach (string key in path) node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        return (YamlMappingNode)node;
    }

    private static YamlMappingNode Pod(YamlMappingNode workload) => Map(workload, "spec", "template", "spec");

    private static YamlMappingNode Container(YamlMappingNode workload) => (YamlMappingNode)((YamlSequenceNode)Pod(workload)["containers"]).Children[0];

    private static YamlSequenceNode Args(YamlMappingNode workload) => (YamlSequenceNode)Container(workload)["args"];

    private static void SetArg(YamlMappingNode workload, string option, string value)
    {
        var args = Args(workload).Children;
        int at = args.IndexOf(new YamlScalarNode(option));
        Assert.True(at >= 0, $"no {option}");
        args[at + 1] = new YamlScalarNode(value);
    }

    private static void RemoveArg(YamlMappingNode workload, string option, bool withValue = true)
    {
        var args = Args(workload).Children;
        int at = args.IndexOf(new YamlScalarNode(option));
        Assert.True(at >= 0, $"no {option}");
        if (withValue) args.RemoveAt(at + 1);
        args.RemoveAt(at);
    }

    private static YamlMappingNode Trigger(YamlMappingNode scaled, int index = 0) =>
        (YamlMappingNode)((YamlSequenceNode)Map(scaled, "spec")["triggers"]).Children[index];

    private const string Gateway = DaprNames.GatewayAppId, Functions = DaprNames.FunctionsAppId, Corrector = DaprNames.CorrectorAppId;

    public static TheoryData<string, string, string, string, Change?, string> Breakages => new()
    {
        // overlay, what is broken, kind, name, the change, the rule that must fire
        { "dev", "an unknown field (a typo the API server refuses)", "Deployment", Functions, d => Map(d, "spec").Set("replica", "1"), "parse" },
        { "dev", "an object outside the namespace", "Service", Gateway, d => Map(d, "metadata").Children.Remove(new YamlScalarNode("namespace")), "namespace" },
        { "dev", "a Service selecting no pod", "Service", Gateway, d => Map(d, "spec", "selector").Set("app", "offload-gw"), "selectors" },
        { "dev", "a pod template its selector does not match", "Deployment", Functions, d => Map(d, "spec", "template", "metadata", "labels").Set("app", "x"), "selectors" },
        { "dev", "serve arguments the command refuses", "Deployment", Gateway, d => { Args(d).Add("--mode"); Args(d).Add("sometimes"); }, "serve" },
        { "dev", "an app port the sidecar is not told", "Deployment", Functions, d => SetArg(d, "--port", "5101"), "serve" },
        { "dev", "a process bound to loopback", "Deployment", Functions, d => SetArg(d, "--host", "127.0.0.1"), "serve" },
        { "dev", "a Dapr app id the code does not use", "Deployment", Functions, d => Map(d, "spec", "template", "metadata", "annotations").Set("dapr.io/app-id", "aggregator"), "dapr" },
        { "dev", "a body limit below a state piece", "Deployment", Functions, d => Map(d, "spec", "template", "metadata", "annotations").Set("dapr.io/max-body-size", "1Mi"), "dapr" },
        { "dev", "a sidecar configuration that is not deployed", "Deployment", Gateway, d => Map(d, "spec", "template", "metadata", "annotations").Set("dapr.io/config", "default"), "dapr" },
        { "dev", "a component not scoped to an app that uses it", "Component", DaprNames.StateStore, d => ((YamlSequenceNode)d["scopes"]).Children.RemoveAt(1), "dapr" },
        { "dev", "pending entries, which cannot scale from zero", "ScaledObject", Functions, d => { var m = Map(Trigger(d), "metadata"); m.Children.Remove(new YamlScalarNode("lagCount")); m.Set("pendingEntriesCount", "10"); }, "scaling" },
        { "dev", "a stream the functions take left without a trigger", "ScaledObject", Functions, d => ((YamlSequenceNode)Map(d, "spec")["triggers"]).Children.RemoveAt(1), "scaling" },
        { "dev", "a consumer group that is not the app id", "ScaledObject", Functions, d => Map(Trigger(d), "metadata").Set("consumerGroup", "functions"), "scaling" },
        { "dev", "an activation threshold above zero", "ScaledObject", Functions, d => Map(Trigger(d), "metadata").Set("activationLagCount", "5"), "scaling" },
        { "dev", "a deployment at zero replicas that nothing scales", "ScaledObject", Functions, null, "scaling" },
        { "dev", "the actor host at zero replicas", "Deployment", Gateway, d => Map(d, "spec").Set("replicas", "0"), "actors" },
        { "dev", "a rolling update of the gateway", "Deployment", Gateway, d => Map(d, "spec", "strategy").Set("type", "RollingUpdate"), "actors" },
        { "dev", "a container without resources", "Deployment", Functions, d => Container(d).Children.Remove(new YamlScalarNode("resources")), "containers" },
        { "dev", "a container without a liveness probe", "Deployment", Gateway, d => Container(d).Children.Remove(new YamlScalarNode("livenessProbe")), "containers" },
        { "dev", "a probe on a port the container does not declare", "Deployment", Functions, d => Map(Container(d), "readinessProbe", "httpGet").Set("port", "metrics"), "containers" },
        { "dev", "a writable root file system", "Deployment", Gateway, d => Map(Container(d), "securityContext").Set("readOnlyRootFilesystem", "false"), "containers" },
        { "dev", "a container that may run as root", "Deployment", "redis", d => Pod(d).Children.Remove(new YamlScalarNode("securityContext")), "containers" },
        { "dev-async", "the corrector on the image without libtorch", "Deployment", Corrector, d => Container(d).Set("image", "offload-functions:dev"), "images" },
        { "dev", "an image on latest", "Deployment", Functions, d => Container(d).Set("image", "offload:latest"), "images" },
        { "dev", "a host path on a pod with no node store", "Deployment", Functions, d => ((YamlSequenceNode)Pod(d)["volumes"]).Add(new YamlMappingNode { { "name", "host" }, { "hostPath", new YamlMappingNode { { "path", "/var/run" } } } }), "host-access" },
        { "dev", "no default deny of ingress", "NetworkPolicy", "offload-default-deny-ingress", null, "network" },
        { "dev", "the gateway's app port open to the world", "NetworkPolicy", "offload-gateway-devices", d => ((YamlMappingNode)((YamlSequenceNode)Map(d, "spec")["ingress"]).Children[0]).Children.Remove(new YamlScalarNode("ports")), "network" },
        { "dev", "a generated secret whose hash suffix Dapr's objects do not carry", "Secret", "offload-redis", d => Map(d, "metadata").Set("name", "offload-redis-5h2g8kt7c4"), "secrets" },
        { "dev", "a Deployment no disruption budget covers", "PodDisruptionBudget", Functions, null, "disruption" },
        { "dev", "a budget that blocks every drain", "PodDisruptionBudget", Gateway, d => Map(d, "spec").Set("maxUnavailable", "0"), "disruption" },
        { "dev-async", "a corrector that builds another model", "Deployment", Corrector, d => { Args(d).Add("--hidden"); Args(d).Add("16"); }, "async" },
        { "dev-async", "an asynchronous gateway with no corrector app", "Deployment", Corrector, null, "async" },
        { "prod", "a node store the gateway does not use", "Deployment", Gateway, d => RemoveArg(d, "--node-store"), "node-store" },
        { "prod", "functions that may run away from the gateway's node", "Deployment", Functions, d => Pod(d).Children.Remove(new YamlScalarNode("affinity")), "node-store" },
        { "prod", "no node agent", "DaemonSet", "offload-node-agent", null, "node-store" },
        { "prod", "a node-store pod in its own PID namespace", "Deployment", Functions, d => Pod(d).Children.Remove(new YamlScalarNode("hostPID")), "host-access" },
        { "prod", "host access the namespace's Pod Security level forbids", "Namespace", "offload", d => Map(d, "metadata", "labels").Set("pod-security.kubernetes.io/enforce", "baseline"), "host-access" },
        { "prod", "functions with a node store scaled to zero", "ScaledObject", Functions, d => Map(d, "spec").Set("minReplicaCount", "0"), "scaling" },
    };

    [Theory]
    [MemberData(nameof(Breakages))]
    public void Each_check_finds_what_an_edit_breaks(string overlay, string broken, string kind, string name, Change? change, string rule)
    {
        var report = DeploymentCheck.Run(Mutated(overlay, kind, name, change), Offload.Cli.Commands.ServeCommand.Plan);
        Assert.False(report.Passed, $"{broken}: nothing found");
        Assert.True(report.Findings.Any(f => f.Rule == rule), $"{broken}: expected a '{rule}' finding, got:\n{string.Join("\n", report.Findings)}");
    }

    [Fact]
    public void Every_rule_has_a_breakage_that_fires_it()
    {
        Assert.Equal(DeploymentCheck.Rules.Order(), ((IEnumerable<object[]>)Breakages).Select(b => (string)b[5]).Distinct().Order());
    }

    [Fact]
    public void The_command_checks_every_overlay_writes_what_it_rendered_and_exits_zero()
    {
        string output = Directory.CreateTempSubdirectory("offload-deploy").FullName;
        try
        {
            var printed = new StringWriter();
            // As an operator runs it in the repository: every folder under k8s/overlays.
            int exit = DeployCommand.Run([], output, printed, searchFrom: Manifests.Path("k8s"));
            Assert.True(exit == 0, printed.ToString());
            foreach (string overlay in new[] { "dev", "dev-async", "prod" })
            {
                Assert.Contains($"{overlay} (", printed.ToString());
                Assert.Equal(KubernetesManifestTests.Render(overlay).Yaml, File.ReadAllText(Path.Combine(output, overlay + ".yaml")));
            }
            var report = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(output, "report.json")))!.AsArray();
            Assert.Equal(3, report.Count);
            Assert.All(report, r => Assert.Empty(r!["findings"]!.AsArray()));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public void A_broken_overlay_exits_one_and_a_missing_one_is_a_usage_error()
    {
        string broken = Directory.CreateTempSubdirectory("offload-overlay").FullName;
        try
        {
            // An overlay over the real base whose gateway listens on loopback only.
            File.WriteAllText(Path.Combine(broken, "kustomization.yaml"), $$"""
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                resources:
                  - {{Path.GetRelativePath(broken, Manifests.Path("k8s", "overlays", "dev"))}}
                patches:
                  - target:
                      kind: Deployment
                      name: offload-gateway
                    patch: |-
                      - op: replace
                        path: /spec/template/spec/containers/0/args/2
                        value: 127.0.0.1
                """);
            var printed = new StringWriter();
            Assert.Equal(DeployCommand.FindingsExit, DeployCommand.Run([broken], null, printed));
            Assert.Contains("serve", printed.ToString());
            Assert.Contains("127.0.0.1", printed.ToString());
            Assert.Throws<Offload.Cli.InvalidOptionException>(() => DeployCommand.Run([Path.Combine(broken, "missing")], null, printed));
            File.WriteAllText(Path.Combine(broken, "kustomization.yaml"), "resources: [nothing-here.yaml]\n");
            Assert.Contains("kubectl kustomize", Assert.Throws<Offload.Cli.InvalidOptionException>(() => DeployCommand.Run([broken], null, printed)).Message);
        }
        finally
        {
            Directory.Delete(broken, recursive: true);
        }
    }
}
