using System.Globalization;
using k8s;
using k8s.Models;
using Offload.Cli.Options;
using Offload.Cli.Serving;
using Offload.Functions.Names;
using YamlDotNet.RepresentationModel;
using static Offload.Cli.Deployment.ManifestYaml;

namespace Offload.Cli.Deployment;

/// <summary>
/// Checks a rendered overlay for what would bite an operator once it is applied: objects the API
/// server would refuse (strict typed parsing), selectors that select nothing, Dapr names and ports
/// that differ from the code's, scalers that can never wake their app, an actor host that can scale
/// to zero, containers without resources, probes or a non-root read-only security context, host
/// access outside the node store's pods, ingress from outside the namespace to anything but the
/// gateway's gRPC port, and <c>offload serve</c> arguments that the command itself would refuse.
/// </summary>
/// <remarks>
/// The names and ports it checks against are the code's (<see cref="DaprNames"/>), and a container's
/// arguments are checked by the planner it is given: <c>ServeCommand.Plan</c>, the parser the process
/// itself runs, so a manifest cannot drift from the binary it starts.
/// </remarks>
public static class DeploymentCheck
{
    /// <summary>The checks, in the order they run.</summary>
    public static IReadOnlyList<string> Rules { get; } =
        ["parse", "namespace", "selectors", "serve", "dapr", "scaling", "actors", "containers", "images", "host-access", "node-store", "async", "network", "secrets", "disruption"];

    private static readonly HashSet<string> BuiltInKinds = ["Namespace", "Deployment", "DaemonSet", "Service", "NetworkPolicy", "PodDisruptionBudget", "Secret", "ConfigMap", "ServiceAccount"];

    private static readonly HashSet<string> CustomKinds = ["Component", "Configuration", "Resiliency", "ScaledObject", "TriggerAuthentication"];

    /// <summary>Runs every check on <paramref name="overlay"/>.</summary>
    /// <param name="overlay">The rendered overlay.</param>
    /// <param name="plan">
    /// What <c>offload serve</c> makes of a container's arguments (after <c>serve</c>), given whether its
    /// environment configures Kestrel's endpoints; throws <see cref="InvalidOptionException"/> where the
    /// command would refuse them.
    /// </param>
    public static DeploymentReport Run(RenderedOverlay overlay, Func<IReadOnlyList<string>, bool, ServePlan> plan)
    {
        ArgumentNullException.ThrowIfNull(overlay);
        ArgumentNullException.ThrowIfNull(plan);
        var findings = new List<DeploymentFinding>();
        var model = Model.Read(overlay, findings);
        CheckNamespace(model, findings);
        CheckSelectors(model, findings);
        CheckServe(model, plan, findings);
        CheckDapr(model, findings);
        CheckScaling(model, findings);
        CheckActors(model, findings);
        CheckContainers(model, findings);
        CheckImages(model, findings);
        CheckHostAccess(model, findings);
        CheckNodeStore(model, findings);
        CheckAsynchronous(model, findings);
        CheckNetwork(model, findings);
        var external = CheckSecrets(model, findings);
        CheckDisruption(model, findings);
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var o in overlay.Objects) counts[o.Kind] = counts.GetValueOrDefault(o.Kind) + 1;
        return new DeploymentReport(overlay.Name, counts, findings, external, Rules);
    }

    /// <summary>A workload's pod template, with what <c>offload serve</c> makes of each container's arguments.</summary>
    private sealed record Workload(ManifestObject Object, int? Replicas, V1LabelSelector Selector, V1PodTemplateSpec Template)
    {
        public Dictionary<string, ServePlan> Plans { get; } = new(StringComparer.Ordinal);

        public string? AppId => Template.Metadata?.Annotations?.TryGetValue("dapr.io/app-id", out var id) == true ? id : null;

        public IEnumerable<V1Container> Containers => Template.Spec.Containers ?? [];

        public IEnumerable<V1Container> AllContainers => (Template.Spec.InitContainers ?? []).Concat(Containers);

        public ServePlan? PlanOf(ServeRole role) => Plans.Values.FirstOrDefault(p => p.Role == role);
    }

    /// <summary>The overlay's objects, typed where the Kubernetes models know their kind.</summary>
    private sealed class Model
    {
        public required IReadOnlyList<ManifestObject> Objects { get; init; }
        public List<Workload> Workloads { get; } = [];
        public List<(ManifestObject Object, V1Service Service)> Services { get; } = [];
        public List<(ManifestObject Object, V1NetworkPolicy Policy)> Policies { get; } = [];
        public List<(ManifestObject Object, V1PodDisruptionBudget Budget)> Budgets { get; } = [];
        public List<(ManifestObject Object, V1Secret Secret)> Secrets { get; } = [];
        public List<(ManifestObject Object, V1Namespace Namespace)> Namespaces { get; } = [];

        public IEnumerable<ManifestObject> OfKind(string kind) => Objects.Where(o => o.Kind == kind);

        public Workload? Deployment(string name) => Workloads.FirstOrDefault(w => w.Object.Kind == "Deployment" && w.Object.Name == name);

        /// <summary>What the first container running serve as <paramref name="role"/> runs, or null.</summary>
        public ServePlan? PlanOf(ServeRole role) => Workloads.Select(w => w.PlanOf(role)).FirstOrDefault(p => p is not null);

        /// <summary>The minReplicaCount of the ScaledObject that scales <paramref name="deployment"/> (KEDA's default 0), or null when none does.</summary>
        public int? MinReplicasOf(string deployment) => OfKind("ScaledObject").Where(so => Scalar(so.Node, "spec", "scaleTargetRef", "name") == deployment)
            .Select(so => (int?)MinReplicas(so)).FirstOrDefault();

        public static Model Read(RenderedOverlay overlay, List<DeploymentFinding> findings)
        {
            var model = new Model { Objects = overlay.Objects };
            foreach (var o in overlay.Objects)
            {
                if (!BuiltInKinds.Contains(o.Kind))
                {
                    if (!CustomKinds.Contains(o.Kind))
                        findings.Add(new("parse", o.ToString(), $"a kind this check does not know ({string.Join(", ", BuiltInKinds.Concat(CustomKinds))}): nothing in it is checked"));
                    continue;
                }
                try
                {
                    switch (o.Kind)
                    {
                        case "Deployment":
                            var deployment = KubernetesYaml.Deserialize<V1Deployment>(o.Text, strict: true);
                            model.Workloads.Add(new Workload(o, deployment.Spec.Replicas ?? 1, deployment.Spec.Selector, deployment.Spec.Template));
                            break;
                        case "DaemonSet":
                            var daemons = KubernetesYaml.Deserialize<V1DaemonSet>(o.Text, strict: true);
                            model.Workloads.Add(new Workload(o, null, daemons.Spec.Selector, daemons.Spec.Template));
                            break;
                        case "Service": model.Services.Add((o, KubernetesYaml.Deserialize<V1Service>(o.Text, strict: true))); break;
                        case "NetworkPolicy": model.Policies.Add((o, KubernetesYaml.Deserialize<V1NetworkPolicy>(o.Text, strict: true))); break;
                        case "PodDisruptionBudget": model.Budgets.Add((o, KubernetesYaml.Deserialize<V1PodDisruptionBudget>(o.Text, strict: true))); break;
                        case "Secret": model.Secrets.Add((o, KubernetesYaml.Deserialize<V1Secret>(o.Text, strict: true))); break;
                        case "Namespace": model.Namespaces.Add((o, KubernetesYaml.Deserialize<V1Namespace>(o.Text, strict: true))); break;
                        case "ConfigMap": KubernetesYaml.Deserialize<V1ConfigMap>(o.Text, strict: true); break;
                        case "ServiceAccount": KubernetesYaml.Deserialize<V1ServiceAccount>(o.Text, strict: true); break;
                    }
                }
                catch (Exception e) when (e is YamlDotNet.Core.YamlException or FormatException or InvalidOperationException)
                {
                    findings.Add(new("parse", o.ToString(), $"not a valid {o.Kind} ({e.Message}); the API server would refuse it"));
                }
            }
            return model;
        }
    }

    private static void CheckNamespace(Model model, List<DeploymentFinding> findings)
    {
        if (model.Namespaces.Count != 1)
        {
            findings.Add(new("namespace", "overlay", $"renders {model.Namespaces.Count} Namespace objects; expected exactly one, which every other object lives in"));
            return;
        }
        string name = model.Namespaces[0].Object.Name;
        foreach (var o in model.Objects.Where(o => o.Kind != "Namespace" && o.Namespace != name))
            findings.Add(new("namespace", o.ToString(), $"is in namespace '{o.Namespace ?? "(none: whatever kubectl's context says)"}', not '{name}'"));
    }

    private static bool Selects(IDictionary<string, string>? selector, IDictionary<string, string>? labels) =>
        selector is { Count: > 0 } && labels is not null && selector.All(p => labels.TryGetValue(p.Key, out var v) && v == p.Value);

    private static void CheckSelectors(Model model, List<DeploymentFinding> findings)
    {
        foreach (var w in model.Workloads)
        {
            if (w.Selector?.MatchLabels is not { Count: > 0 } || !Selects(w.Selector.MatchLabels, w.Template.Metadata?.Labels))
                findings.Add(new("selectors", w.Object.ToString(), "its selector does not match its pod template's labels (the API server refuses it)"));
        }
        foreach (var (o, service) in model.Services)
        {
            if (service.Spec.Type == "ExternalName") continue;
            if (!model.Workloads.Any(w => Selects(service.Spec.Selector, w.Template.Metadata?.Labels)))
                findings.Add(new("selectors", o.ToString(), "its selector matches no pod template: the Service has no endpoints"));
        }
        foreach (var (o, budget) in model.Budgets)
            if (!model.Workloads.Any(w => Selects(budget.Spec.Selector?.MatchLabels, w.Template.Metadata?.Labels)))
                findings.Add(new("selectors", o.ToString(), "its selector matches no pod template: it protects nothing"));
        foreach (var (o, policy) in model.Policies)
        {
            var labels = policy.Spec.PodSelector?.MatchLabels;
            if (labels is { Count: > 0 } && !model.Workloads.Any(w => Selects(labels, w.Template.Metadata?.Labels)))
                findings.Add(new("selectors", o.ToString(), "its podSelector matches no pod template: it applies to nothing"));
        }
    }

    /// <summary>Each container that runs <c>offload serve</c>: its arguments as the command checks them, and where it listens.</summary>
    private static void CheckServe(Model model, Func<IReadOnlyList<string>, bool, ServePlan> planOf, List<DeploymentFinding> findings)
    {
        foreach (var w in model.Workloads)
            foreach (var c in w.Containers)
            {
                var args = c.Args ?? [];
                if (args.Count == 0 || args[0] != "serve") continue;
                string where = $"{w.Object}/{c.Name}";
                bool endpoints = c.Env?.Any(e => e.Name.StartsWith("Kestrel__Endpoints__", StringComparison.OrdinalIgnoreCase)) == true;
                ServePlan plan;
                try
                {
                    plan = planOf(args.Skip(1).ToList(), endpoints);
                }
                catch (InvalidOptionException e)
                {
                    findings.Add(new("serve", where, $"offload serve would refuse these arguments: {e.Message}"));
                    continue;
                }
                w.Plans[c.Name] = plan;
                if (plan.Options.Host is not ("0.0.0.0" or "::" or "[::]"))
                    findings.Add(new("serve", where, $"listens on {plan.Options.Host}, which the kubelet's probes, the sidecar and the Service (all on the pod IP) cannot reach: pass --host 0.0.0.0"));
                foreach (int port in ListeningPorts(plan, c))
                    if (c.Ports?.Any(p => p.ContainerPort == port) != true)
                        findings.Add(new("serve", where, $"listens on {port}, which the container does not declare in ports"));
                var expected = plan.Role switch
                {
                    ServeRole.Gateway => plan.Options.DaprAggregator ? DaprNames.GatewayAppId : null,
                    ServeRole.Functions => DaprNames.FunctionsAppId,
                    ServeRole.Corrector => DaprNames.CorrectorAppId,
                    _ => null,
                };
                if (expected != w.AppId)
                    findings.Add(new("serve", where, expected is null
                        ? $"runs serve as {plan.Role}, which has no Dapr sidecar, but the pod is annotated as Dapr app '{w.AppId}'"
                        : $"runs serve as {plan.Role}, Dapr app '{expected}', but the pod's dapr.io/app-id is '{w.AppId ?? "(none)"}'"));
                if (w.AppId is not null && AppPortOf(w) is int appPort)
                {
                    int served = plan.Role == ServeRole.Gateway ? plan.Options.DaprAppPort : plan.Options.Port ?? -1;
                    if (served != appPort)
                        findings.Add(new("serve", where, $"serves the sidecar on {served}, but dapr.io/app-port is {appPort}: the sidecar would call a closed port"));
                }
            }
    }

    /// <summary>The ports a serve process binds: its --port (or Kestrel's configured URL), and the Dapr app port of a gateway.</summary>
    private static IEnumerable<int> ListeningPorts(ServePlan plan, V1Container container)
    {
        if (plan.Options.Port is int port) yield return port;
        else if (container.Env?.FirstOrDefault(e => e.Name.EndsWith("__Url", StringComparison.OrdinalIgnoreCase) && e.Name.StartsWith("Kestrel__Endpoints__", StringComparison.OrdinalIgnoreCase))?.Value is string url
            && Uri.TryCreate(url.Replace("0.0.0.0", "localhost", StringComparison.Ordinal).Replace("*", "localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri))
            yield return uri.Port;
        if (plan.Role == ServeRole.Gateway && plan.Options.DaprAggregator) yield return plan.Options.DaprAppPort;
    }

    private static int? AppPortOf(Workload w) =>
        w.Template.Metadata?.Annotations?.TryGetValue("dapr.io/app-port", out var text) == true
        && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) ? port : null;

    private static readonly string[] AppIds = [DaprNames.GatewayAppId, DaprNames.FunctionsAppId, DaprNames.CorrectorAppId];

    private static void CheckDapr(Model model, List<DeploymentFinding> findings)
    {
        var configurations = model.OfKind("Configuration").Select(c => c.Name).ToHashSet();
        var seen = new HashSet<string>();
        foreach (var w in model.Workloads)
        {
            var annotations = w.Template.Metadata?.Annotations;
            if (annotations?.TryGetValue("dapr.io/enabled", out var enabled) != true || enabled != "true") continue;
            string where = w.Object.ToString();
            string? id = w.AppId;
            if (id is null || !AppIds.Contains(id)) { findings.Add(new("dapr", where, $"dapr.io/app-id '{id}' is none of the code's app ids ({string.Join(", ", AppIds)})")); continue; }
            if (!seen.Add(id)) findings.Add(new("dapr", where, $"a second workload with dapr.io/app-id '{id}': its consumer group and actor placement would be shared"));
            if (Get(annotations, "dapr.io/app-protocol") != "http")
                findings.Add(new("dapr", where, "dapr.io/app-protocol must be http: the apps take CloudEvents and actor calls over HTTP/1.1"));
            if (Get(annotations, "dapr.io/config") is not { } config || !configurations.Contains(config))
                findings.Add(new("dapr", where, $"dapr.io/config '{Get(annotations, "dapr.io/config")}' names no rendered Configuration: the sidecar would start without the reminders feature and tracing"));
            if (Get(annotations, "dapr.io/max-body-size") is not { } size || !TryBytes(size, out decimal bytes) || bytes < 2 * 1024 * 1024)
                findings.Add(new("dapr", where, $"dapr.io/max-body-size '{Get(annotations, "dapr.io/max-body-size")}' must be at least 2Mi: a state piece is up to 1 MiB and a bulk delivery up to {DaprNames.BulkMaxMessages} events"));
        }

        var components = model.OfKind("Component").ToDictionary(c => c.Name);
        string[] expected = [DaprNames.PubSub, DaprNames.StateStore, DaprNames.ActorStateStore];
        foreach (string name in expected.Where(n => !components.ContainsKey(n)))
            findings.Add(new("dapr", $"Component/{name}", "is not rendered, but the code uses it"));
        foreach (var c in components.Values.Where(c => !expected.Contains(c.Name)))
            findings.Add(new("dapr", c.ToString(), "is no component the code uses"));
        foreach (string store in new[] { DaprNames.PubSub, DaprNames.StateStore })
        {
            if (!components.TryGetValue(store, out var component)) continue;
            var scopes = Strings(component.Node, "scopes");
            foreach (string id in seen.Where(id => !scopes.Contains(id)))
                findings.Add(new("dapr", component.ToString(), $"is not scoped to '{id}', which runs and uses it: its sidecar would not load it"));
        }
    }

    private static void CheckScaling(Model model, List<DeploymentFinding> findings)
    {
        string? redisHost = model.OfKind("Component").FirstOrDefault(c => c.Name == DaprNames.PubSub) is { } pubsub ? ComponentMetadata(pubsub.Node).GetValueOrDefault("redisHost") : null;
        var scaled = new Dictionary<string, int>();
        foreach (var so in model.OfKind("ScaledObject"))
        {
            string where = so.ToString();
            string? target = Scalar(so.Node, "spec", "scaleTargetRef", "name");
            var workload = target is null ? null : model.Deployment(target);
            if (workload is null) { findings.Add(new("scaling", where, $"scales '{target}', which is no rendered Deployment")); continue; }
            int min = MinReplicas(so);
            scaled[target!] = min;
            string? appId = workload.AppId;
            var streams = new HashSet<string>();
            foreach (var trigger in Mappings(so.Node, "spec", "triggers"))
            {
                string type = Scalar(trigger, "type") ?? "";
                string at = $"{where} trigger {type}";
                if (type != "redis-streams") { findings.Add(new("scaling", at, "is not a redis-streams trigger on the pub/sub's streams; this check cannot tell whether it wakes the app")); continue; }
                var meta = Node(trigger, "metadata") as YamlMappingNode;
                string? stream = meta is null ? null : Scalar(meta, "stream");
                at = $"{where} trigger on {stream}";
                if (stream is not null) streams.Add(stream);
                if (appId is not null && !DaprNames.WakingTopicsOf(appId).Contains(stream ?? ""))
                    findings.Add(new("scaling", at, $"'{stream}' is not a topic '{appId}' takes ({string.Join(", ", DaprNames.WakingTopicsOf(appId))})"));
                if (meta is null) continue;
                if (Scalar(meta, "consumerGroup") != appId)
                    findings.Add(new("scaling", at, $"consumerGroup '{Scalar(meta, "consumerGroup")}' is not '{appId}': Dapr's redis pub/sub reads with the app id as the group, so this lag is never the app's"));
                if (redisHost is not null && Scalar(meta, "address") != redisHost)
                    findings.Add(new("scaling", at, $"reads Redis at '{Scalar(meta, "address")}', but the pub/sub publishes to '{redisHost}'"));
                if (!int.TryParse(Scalar(meta, "lagCount"), NumberStyles.None, CultureInfo.InvariantCulture, out int lag) || lag < 1)
                    findings.Add(new("scaling", at, "lagCount must be a positive integer: consumer-group lag is the only redis-streams metric that counts events no consumer has read"));
                if (min == 0)
                {
                    if (meta.Children.ContainsKey(new YamlScalarNode("pendingEntriesCount")))
                        findings.Add(new("scaling", at, "pendingEntriesCount cannot scale from zero: an event is pending only once a running consumer read it"));
                    if (Scalar(meta, "activationLagCount") != "0")
                        findings.Add(new("scaling", at, "activationLagCount must be \"0\" when scaling from zero, so that one waiting event wakes the app"));
                }
            }
            if (min == 0)
            {
                foreach (string topic in DaprNames.WakingTopicsOf(appId ?? "").Where(t => !streams.Contains(t)))
                    findings.Add(new("scaling", where, $"scales '{appId}' from zero but has no trigger on '{topic}': its events would wait with no instance to take them"));
                if (workload.Plans.Values.Any(p => p.Options.NodeStorePath is not null))
                    findings.Add(new("scaling", where, "scales to zero an app with a node store: its events go on per-node topics ({topic}.{node}) that no trigger can name, so nothing would wake it; keep minReplicaCount at least 1"));
            }
        }
        foreach (var w in model.Workloads.Where(w => w.Object.Kind == "Deployment" && w.Replicas == 0 && !scaled.ContainsKey(w.Object.Name)))
            findings.Add(new("scaling", w.Object.ToString(), "runs 0 replicas and no ScaledObject scales it: it never runs"));
        foreach (var (name, min) in scaled)
            if (model.Deployment(name) is { Replicas: int replicas } w && replicas < min)
                findings.Add(new("scaling", w.Object.ToString(), $"declares {replicas} replicas, below its ScaledObject's minReplicaCount {min}: each apply scales it down until KEDA scales it back"));
    }

    private static void CheckActors(Model model, List<DeploymentFinding> findings)
    {
        var hosts = model.OfKind("Component").Where(c => ComponentMetadata(c.Node).GetValueOrDefault("actorStateStore") == "true").SelectMany(c => Strings(c.Node, "scopes")).ToHashSet();
        if (model.OfKind("Component").Any(c => c.Name == DaprNames.ActorStateStore) && !hosts.SetEquals([DaprNames.GatewayAppId]))
            findings.Add(new("actors", $"Component/{DaprNames.ActorStateStore}", $"is scoped to {string.Join(", ", hosts)}; only '{DaprNames.GatewayAppId}' hosts the {DaprNames.RoundActorType}, and an app offered actors without hosting them would be given some"));
        foreach (string host in hosts)
        {
            var w = model.Workloads.FirstOrDefault(w => w.AppId == host);
            if (w is null) { findings.Add(new("actors", $"app {host}", $"hosts the {DaprNames.RoundActorType} but no workload runs it: rounds would have no actor")); continue; }
            // A minReplicaCount that is not a number (-1) leaves KEDA's ScaledObject invalid: counted as no replica.
            if (w.Replicas < 1 || model.MinReplicasOf(w.Object.Name) is 0 or -1)
                findings.Add(new("actors", w.Object.ToString(), $"hosts the {DaprNames.RoundActorType} but can run no replica: calls to a round's actor and its deadline reminder need a running host"));
            if (host == DaprNames.GatewayAppId && (w.Replicas != 1 || w.Object.Node is { } node && Scalar(node, "spec", "strategy", "type") != "Recreate"))
                findings.Add(new("actors", w.Object.ToString(), "the gateway keeps its task book and upload ledger in process: run exactly 1 replica with strategy Recreate, so no rollout runs two"));
        }
    }

    private static void CheckContainers(Model model, List<DeploymentFinding> findings)
    {
        foreach (var w in model.Workloads)
        {
            var pod = w.Template.Spec.SecurityContext;
            foreach (var c in w.AllContainers)
            {
                string where = $"{w.Object}/{c.Name}";
                var requests = c.Resources?.Requests;
                if (requests is null || !requests.ContainsKey("cpu") || !requests.ContainsKey("memory"))
                    findings.Add(new("containers", where, "requests no cpu and memory: the scheduler cannot place it by what it needs"));
                if (c.Resources?.Limits?.ContainsKey("memory") != true)
                    findings.Add(new("containers", where, "has no memory limit: a leak takes the node's memory, not the pod's"));
                bool init = w.Template.Spec.InitContainers?.Contains(c) == true;
                if (!init)
                {
                    if (c.ReadinessProbe is null) findings.Add(new("containers", where, "has no readiness probe: traffic and rollouts would not wait for it"));
                    if (c.LivenessProbe is null) findings.Add(new("containers", where, "has no liveness probe: a hung process would never be restarted"));
                    foreach (var (kind, probe) in new[] { ("readiness", c.ReadinessProbe), ("liveness", c.LivenessProbe), ("startup", c.StartupProbe) })
                        if (probe is not null && ProbePort(probe, c) is { } problem)
                            findings.Add(new("containers", where, $"its {kind} probe {problem}"));
                }
                var sc = c.SecurityContext;
                if ((sc?.RunAsNonRoot ?? pod?.RunAsNonRoot) != true || (sc?.RunAsUser ?? pod?.RunAsUser) == 0)
                    findings.Add(new("containers", where, "may run as root: set runAsNonRoot (and a non-zero runAsUser)"));
                if (sc?.AllowPrivilegeEscalation != false) findings.Add(new("containers", where, "allows privilege escalation: set allowPrivilegeEscalation: false"));
                if (sc?.ReadOnlyRootFilesystem != true) findings.Add(new("containers", where, "has a writable root file system: set readOnlyRootFilesystem: true and mount what it writes"));
                if (sc?.Capabilities?.Drop?.Contains("ALL") != true) findings.Add(new("containers", where, "keeps Linux capabilities: drop ALL"));
                if ((sc?.SeccompProfile ?? pod?.SeccompProfile)?.Type is not ("RuntimeDefault" or "Localhost"))
                    findings.Add(new("containers", where, "runs without a seccomp profile: set seccompProfile RuntimeDefault"));
            }
        }
    }

    /// <summary>Why a probe cannot reach its container, or null when it can.</summary>
    private static string? ProbePort(V1Probe probe, V1Container container)
    {
        string? port = probe.HttpGet?.Port?.Value ?? probe.TcpSocket?.Port?.Value ?? probe.Grpc?.Port.ToString(CultureInfo.InvariantCulture);
        if (port is null) return probe.Exec is null ? "checks nothing (no httpGet, tcpSocket, grpc or exec)" : null;
        int? number = int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : container.Ports?.FirstOrDefault(p => p.Name == port)?.ContainerPort;
        if (number is null) return $"names port '{port}', which the container does not declare";
        if (container.Ports?.Any(p => p.ContainerPort == number) != true) return $"checks port {number}, which the container does not declare";
        return null;
    }

    /// <summary>The image built without libtorch's native libraries (k8s/images/Dockerfile's offload-functions target).</summary>
    public const string FunctionsImage = "offload-functions";

    private static void CheckImages(Model model, List<DeploymentFinding> findings)
    {
        foreach (var w in model.Workloads)
            foreach (var c in w.AllContainers)
            {
                string image = c.Image ?? "";
                int slash = image.LastIndexOf('/');
                bool digest = image.Contains('@', StringComparison.Ordinal);
                int colon = image.IndexOf(':', slash + 1);
                string? tag = colon < 0 ? null : image[(colon + 1)..];
                if (!digest && (tag is null || tag == "latest"))
                    findings.Add(new("images", $"{w.Object}/{c.Name}", $"image '{image}' has no fixed tag: every node may run a different build (set it with kustomize images)"));
                // The functions image has no libtorch (k8s/images/Dockerfile): the gateway builds and evaluates the model with it, the corrector inverts with it.
                string repository = image[(slash + 1)..(colon < 0 ? (digest ? image.IndexOf('@', StringComparison.Ordinal) : image.Length) : colon)];
                if (repository == FunctionsImage && w.Plans.TryGetValue(c.Name, out var plan) && plan.Role is ServeRole.Gateway or ServeRole.Corrector)
                    findings.Add(new("images", $"{w.Object}/{c.Name}", $"runs the {plan.Role} from '{image}', the image without libtorch, which the {plan.Role} loads: use the offload image"));
            }
    }

    private static void CheckHostAccess(Model model, List<DeploymentFinding> findings)
    {
        bool anyHost = false;
        foreach (var w in model.Workloads)
        {
            var spec = w.Template.Spec;
            string where = w.Object.ToString();
            if (spec.HostNetwork == true) findings.Add(new("host-access", where, "uses the host's network: no Offload pod needs it"));
            var hostVolumes = spec.Volumes?.Where(v => v.HostPath is not null).ToList() ?? [];
            bool storePod = w.Plans.Values.Any(p => p.Options.NodeStorePath is not null || p.Role == ServeRole.NodeAgent);
            if (hostVolumes.Count > 0 || spec.HostPID == true) anyHost = true;
            if (hostVolumes.Count > 0 && !storePod)
                findings.Add(new("host-access", where, $"mounts host paths ({string.Join(", ", hostVolumes.Select(v => v.HostPath.Path))}) but attaches to no node store: only the node agent and the pods that use its store may"));
            if (spec.HostPID == true && !storePod)
                findings.Add(new("host-access", where, "shares the host's PID namespace but attaches to no node store"));
            if (storePod && spec.HostPID != true)
                findings.Add(new("host-access", where, "attaches to the node store without the host's PID namespace: the store judges a process alive by its pid and start time, which differ in every pod's namespace, so a dead pod's objects would never be reclaimed (or a live one's would)"));
        }
        var namespaceLabels = model.Namespaces.FirstOrDefault().Namespace?.Metadata?.Labels;
        if (anyHost && (namespaceLabels is null ? null : Get(namespaceLabels, "pod-security.kubernetes.io/enforce")) is not "privileged")
            findings.Add(new("host-access", model.Namespaces.FirstOrDefault().Object?.ToString() ?? "overlay", "pods use host paths or the host PID namespace, which the namespace's Pod Security level forbids: they would not be admitted"));
    }

    private static void CheckNodeStore(Model model, List<DeploymentFinding> findings)
    {
        var users = model.Workloads.SelectMany(w => w.Containers.Where(c => w.Plans.ContainsKey(c.Name)).Select(c => (w, c, plan: w.Plans[c.Name])))
            .Where(x => x.plan.Options.NodeStorePath is not null).ToList();
        var gateway = model.PlanOf(ServeRole.Gateway);
        var functions = model.PlanOf(ServeRole.Functions);
        if (gateway is not null && functions is not null && gateway.Options.DaprAggregator && (gateway.Options.NodeStorePath is null) != (functions.Options.NodeStorePath is null))
            findings.Add(new("node-store", "gateway and functions", $"only the {(gateway.Options.NodeStorePath is null ? "functions" : "gateway")} use a node store: the functions would look for updates where the gateway never put them"));
        if (users.Count == 0) return;
        var paths = users.Select(u => u.plan.Options.NodeStorePath!).Distinct().ToList();
        if (paths.Count > 1) findings.Add(new("node-store", "overlay", $"processes name different stores ({string.Join(", ", paths)}): they would not share one"));
        if (!users.Any(u => u.plan.Role == ServeRole.NodeAgent && u.w.Object.Kind == "DaemonSet"))
            findings.Add(new("node-store", "overlay", "pods use a node store but no DaemonSet runs the node agent: nothing reclaims what a dead process held, and other nodes cannot pull from it"));
        string? hostPath = null;
        foreach (var (w, c, plan) in users)
        {
            string where = $"{w.Object}/{c.Name}";
            var mount = c.VolumeMounts?.Where(m => plan.Options.NodeStorePath!.StartsWith(m.MountPath.TrimEnd('/') + "/", StringComparison.Ordinal)).MaxBy(m => m.MountPath.Length);
            var volume = mount is null ? null : w.Template.Spec.Volumes?.FirstOrDefault(v => v.Name == mount.Name);
            if (volume?.HostPath is null)
            {
                findings.Add(new("node-store", where, $"its store {plan.Options.NodeStorePath} is not on a host path mount: it would be private to the pod, shared with no other process"));
                continue;
            }
            string onHost = volume.HostPath.Path.TrimEnd('/') + plan.Options.NodeStorePath![mount!.MountPath.TrimEnd('/').Length..];
            hostPath ??= onHost;
            if (onHost != hostPath) findings.Add(new("node-store", where, $"its store is {onHost} on the host, not {hostPath} like the others'"));
        }
        var functionsWorkload = model.Workloads.FirstOrDefault(w => w.PlanOf(ServeRole.Functions)?.Options.NodeStorePath is not null);
        var peers = functionsWorkload?.PlanOf(ServeRole.Functions)?.Options.NodePeers.Count ?? 0;
        if (functionsWorkload is not null && peers == 0
            && functionsWorkload.Template.Spec.Affinity?.PodAffinity?.RequiredDuringSchedulingIgnoredDuringExecution?.Any(t => t.TopologyKey == "kubernetes.io/hostname" && Selects(t.LabelSelector?.MatchLabels, model.Deployment(DaprNames.GatewayAppId)?.Template.Metadata?.Labels)) != true)
            findings.Add(new("node-store", functionsWorkload.Object.ToString(), "may run on a node other than the gateway's, with no --node-peer to pull the gateway's updates from: require pod affinity to the gateway (topologyKey kubernetes.io/hostname)"));
    }

    private static void CheckAsynchronous(Model model, List<DeploymentFinding> findings)
    {
        var gateway = model.PlanOf(ServeRole.Gateway);
        var corrector = model.PlanOf(ServeRole.Corrector);
        bool stale = gateway is { Options: { Asynchronous: true, DaprAggregator: true } } && CorrectorCatalog.WeightingOf(gateway.Options.Corrector, new CorrectorSettings()) is null;
        if (stale && corrector is null)
            findings.Add(new("async", $"Deployment/{DaprNames.GatewayAppId}", $"serves asynchronously with --corrector {gateway!.Options.Corrector}, which runs in the corrector app, but no workload runs it: stale updates would wait for it forever (push-back once its queue is full)"));
        if (corrector is not null && !stale)
            findings.Add(new("async", $"Deployment/{DaprNames.CorrectorAppId}", "runs the corrector app, but the gateway sends it nothing (it is not asynchronous on Dapr with a corrector the app runs)"));
        if (!stale || corrector is null) return;
        var g = gateway!.Options;
        var c = corrector.Options;
        foreach (var (what, mine, theirs) in new (string, object, object)[]
                 {
                     ("--corrector", g.Corrector, c.Corrector), ("--hidden", g.Hidden, c.Hidden), ("--seed", g.Seed, c.Seed),
                     ("--local-epochs", g.LocalEpochs, c.LocalEpochs), ("--batch", g.BatchSize, c.BatchSize), ("--lr", g.LearningRate, c.LearningRate),
                     ("--inversion-samples", g.InversionSamples, c.InversionSamples),
                 })
            if (!Equals(mine, theirs))
                findings.Add(new("async", $"Deployment/{DaprNames.CorrectorAppId}", $"{what} is {theirs} in the corrector but {mine} in the gateway: the corrector would rebuild another model, or correct by another rule"));
    }

    private static void CheckNetwork(Model model, List<DeploymentFinding> findings)
    {
        if (!model.Policies.Any(p => p.Policy.Spec.PodSelector?.MatchLabels is not { Count: > 0 } && p.Policy.Spec.PodSelector?.MatchExpressions is not { Count: > 0 }
                && p.Policy.Spec.PolicyTypes?.Contains("Ingress") == true && p.Policy.Spec.Ingress is not { Count: > 0 }))
            findings.Add(new("network", "overlay", "no NetworkPolicy denies ingress to every pod by default: anything in the cluster can post events to the apps or call the round actor"));
        var gateway = model.Deployment(DaprNames.GatewayAppId);
        var plan = gateway?.PlanOf(ServeRole.Gateway);
        var grpcPort = plan is null ? (int?)null : gateway!.Containers.Where(c => gateway.Plans.ContainsKey(c.Name)).SelectMany(c => ListeningPorts(plan, c)).FirstOrDefault(p => p != plan.Options.DaprAppPort);
        foreach (var (o, policy) in model.Policies)
            foreach (var rule in policy.Spec.Ingress ?? [])
            {
                bool outside = rule.FromProperty is not { Count: > 0 } || rule.FromProperty.Any(f => f.IpBlock is not null || f.NamespaceSelector is not null);
                if (!outside) continue;
                var selected = model.Workloads.Where(w => policy.Spec.PodSelector?.MatchLabels is not { Count: > 0 } || Selects(policy.Spec.PodSelector.MatchLabels, w.Template.Metadata?.Labels)).ToList();
                if (selected.Any(w => w != gateway))
                    findings.Add(new("network", o.ToString(), $"lets traffic from outside the namespace reach {string.Join(", ", selected.Where(w => w != gateway).Select(w => w.Object.Name))}: only the gateway's gRPC port should be reachable"));
                var ports = rule.Ports?.Select(p => p.Port?.Value).ToList();
                if (ports is not { Count: > 0 } || ports.Any(p => p != grpcPort?.ToString(CultureInfo.InvariantCulture) && p != "grpc"))
                    findings.Add(new("network", o.ToString(), $"lets traffic from outside the namespace reach {(ports is { Count: > 0 } ? "ports " + string.Join(", ", ports) : "every port")}: only the gRPC port {grpcPort} (the Dapr app port takes events and actor calls)"));
            }
    }

    /// <summary>Every secret the pods and components name: rendered, or listed for the operator to create.</summary>
    private static List<string> CheckSecrets(Model model, List<DeploymentFinding> findings)
    {
        var rendered = model.Secrets.Select(s => s.Object.Name).ToHashSet();
        var named = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var w in model.Workloads)
        {
            foreach (var v in w.Template.Spec.Volumes ?? []) if (v.Secret?.SecretName is { } s) named.Add(s);
            foreach (var c in w.AllContainers)
            {
                foreach (var e in c.Env ?? []) if (e.ValueFrom?.SecretKeyRef?.Name is { } s) named.Add(s);
                foreach (var e in c.EnvFrom ?? []) if (e.SecretRef?.Name is { } s) named.Add(s);
            }
        }
        foreach (var component in model.OfKind("Component"))
            foreach (var entry in Mappings(component.Node, "spec", "metadata"))
                if (Node(entry, "secretKeyRef") is YamlMappingNode reference && Scalar(reference, "name") is { } s) named.Add(s);
        foreach (var auth in model.OfKind("TriggerAuthentication"))
            foreach (var entry in Mappings(auth.Node, "spec", "secretTargetRef"))
                if (Scalar(entry, "name") is { } s) named.Add(s);
        foreach (var so in model.OfKind("ScaledObject"))
            foreach (var trigger in Mappings(so.Node, "spec", "triggers"))
            {
                string? reference = Node(trigger, "authenticationRef") is YamlMappingNode r ? Scalar(r, "name") : null;
                if (reference is not null && !model.OfKind("TriggerAuthentication").Any(a => a.Name == reference))
                    findings.Add(new("secrets", so.ToString(), $"its trigger authenticates with '{reference}', which is no rendered TriggerAuthentication"));
            }
        // A secret kustomize generated with a hash suffix is renamed only where built-in kinds name it.
        var external = new List<string>();
        foreach (string s in named.Where(s => !rendered.Contains(s)))
        {
            if (rendered.FirstOrDefault(r => r.StartsWith(s + "-", StringComparison.Ordinal)) is { } generated)
                findings.Add(new("secrets", $"Secret/{s}", $"is named, but only {generated} is rendered: a generated name's hash suffix is not carried into Dapr's or KEDA's objects (disableNameSuffixHash)"));
            else external.Add(s);
        }
        return external;
    }

    private static void CheckDisruption(Model model, List<DeploymentFinding> findings)
    {
        foreach (var w in model.Workloads.Where(w => w.Object.Kind == "Deployment"))
        {
            var budgets = model.Budgets.Where(b => Selects(b.Budget.Spec.Selector?.MatchLabels, w.Template.Metadata?.Labels)).ToList();
            if (budgets.Count == 0)
            {
                findings.Add(new("disruption", w.Object.ToString(), "no PodDisruptionBudget covers it: a node drain may take all its pods at once"));
                continue;
            }
            foreach (var (o, budget) in budgets)
            {
                bool blocks = budget.Spec.MaxUnavailable?.Value == "0" || budget.Spec.MaxUnavailable?.Value == "0%"
                    || (int.TryParse(budget.Spec.MinAvailable?.Value, CultureInfo.InvariantCulture, out int min) && w.Replicas is int r && min >= r && r > 0)
                    || budget.Spec.MinAvailable?.Value == "100%";
                if (blocks) findings.Add(new("disruption", o.ToString(), $"allows no voluntary eviction of {w.Object.Name}: every drain of its node would hang"));
            }
        }
    }

    /// <summary>A ScaledObject's minReplicaCount: KEDA's default 0 when it is not given, -1 when it is not a number.</summary>
    private static int MinReplicas(ManifestObject scaledObject) =>
        int.TryParse(Scalar(scaledObject.Node, "spec", "minReplicaCount") ?? "0", CultureInfo.InvariantCulture, out int min) ? min : -1;

    private static string? Get(IDictionary<string, string> map, string key) => map.TryGetValue(key, out var value) ? value : null;

    private static bool TryBytes(string quantity, out decimal bytes)
    {
        try
        {
            bytes = new ResourceQuantity(quantity).ToDecimal();
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            bytes = 0;
            return false;
        }
    }
}
