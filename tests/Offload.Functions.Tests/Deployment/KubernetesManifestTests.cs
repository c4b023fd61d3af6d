using Offload.Functions.Names;
using YamlDotNet.RepresentationModel;
using k8s;
using k8s.Models;

namespace Offload.Functions.Tests.Deployment;

/// <summary>k8s/ parsed into typed objects and cross-checked against the code's names.</summary>
public sealed class KubernetesManifestTests
{
    private static List<(string Text, YamlMappingNode Node)> AllDocuments()
    {
        var kustomization = Manifests.Single(Manifests.Path("k8s", "kustomization.yaml"));
        var resources = ((YamlSequenceNode)kustomization.Child("resources")).Children.Select(r => ((YamlScalarNode)r).Value!).ToList();
        Assert.All(resources, r => Assert.True(File.Exists(Manifests.Path("k8s", r)), $"kustomization lists {r}, which does not exist"));
        return resources.SelectMany(r => Manifests.Documents(Manifests.Path("k8s", r))).ToList();
    }

    private static T Typed<T>(List<(string Text, YamlMappingNode Node)> documents, string kind, string name) =>
        KubernetesYaml.Deserialize<T>(documents.Single(d => d.Node.Scalar("kind") == kind && d.Node.Scalar("metadata", "name") == name).Text, strict: true);

    [Fact]
    public void Deployments_carry_the_dapr_annotations_and_ports_the_code_uses()
    {
        var documents = AllDocuments();
        var functions = Typed<V1Deployment>(documents, "Deployment", DaprNames.FunctionsAppId);
        var annotations = functions.Spec.Template.Metadata.Annotations;
        Assert.Equal("true", annotations["dapr.io/enabled"]);
        Assert.Equal(DaprNames.FunctionsAppId, annotations["dapr.io/app-id"]);
        Assert.Equal(DaprNames.FunctionsPort.ToString(), annotations["dapr.io/app-port"]);
        Assert.Equal("http", annotations["dapr.io/app-protocol"]);
        var container = Assert.Single(functions.Spec.Template.Spec.Containers);
        Assert.Equal(DaprNames.FunctionsPort, Assert.Single(container.Ports).ContainerPort);
        Assert.Contains("--dapr", container.Args);
        Assert.Equal(DaprNames.FunctionsPort.ToString(), container.Args[container.Args.IndexOf("--port") + 1]);
        Assert.Equal(functions.Spec.Selector.MatchLabels["app"], functions.Spec.Template.Metadata.Labels["app"]);

        var gateway = Typed<V1Deployment>(documents, "Deployment", DaprNames.GatewayAppId);
        Assert.Equal(DaprNames.GatewayAppId, gateway.Spec.Template.Metadata.Annotations["dapr.io/app-id"]);
        Assert.Equal(DaprNames.GatewayAppPort.ToString(), gateway.Spec.Template.Metadata.Annotations["dapr.io/app-port"]);
        Assert.Equal("http", gateway.Spec.Template.Metadata.Annotations["dapr.io/app-protocol"]);
        var gatewayContainer = Assert.Single(gateway.Spec.Template.Spec.Containers);
        Assert.Equal("dapr", gatewayContainer.Args[gatewayContainer.Args.IndexOf("--aggregator") + 1]);
        Assert.Equal(DaprNames.GatewayAppPort.ToString(), gatewayContainer.Args[gatewayContainer.Args.IndexOf("--app-port") + 1]);
        Assert.Equal(DaprNames.GatewayPort.ToString(), gatewayContainer.Args[gatewayContainer.Args.IndexOf("--port") + 1]);
        var service = Typed<V1Service>(documents, "Service", DaprNames.GatewayAppId);
        Assert.Equal(gateway.Spec.Template.Metadata.Labels["app"], service.Spec.Selector["app"]);
        Assert.Equal(DaprNames.GatewayPort.ToString(), Assert.Single(service.Spec.Ports).TargetPort.Value);

        // Every dapr.io/config names a Configuration that is deployed.
        var configurations = documents.Where(d => d.Node.Scalar("kind") == "Configuration").Select(d => d.Node.Scalar("metadata", "name")).ToList();
        Assert.Contains(functions.Spec.Template.Metadata.Annotations["dapr.io/config"], configurations);
        Assert.Contains(gateway.Spec.Template.Metadata.Annotations["dapr.io/config"], configurations);
    }

    [Fact]
    public void Dapr_components_match_dapr_components_folder()
    {
        var documents = AllDocuments();
        var components = documents.Where(d => d.Node.Scalar("kind") == "Component").ToDictionary(d => d.Node.Scalar("metadata", "name"), d => d.Node);
        Assert.Equal([DaprNames.ActorStateStore, DaprNames.PubSub, DaprNames.StateStore], components.Keys.Order());
        var local = DaprComponentsTests.Components(Manifests.Path("dapr-components"));
        var redis = Typed<V1Service>(documents, "Service", "redis");
        foreach (var (name, inCluster) in components)
        {
            Assert.True(local.ContainsKey(name), $"{name} is deployed but not in dapr-components/");
            Assert.Equal(local[name].Scalar("spec", "type"), inCluster.Scalar("spec", "type"));
            Assert.Equal(Manifests.Scopes(local[name]), Manifests.Scopes(inCluster));
            // Same settings; only the Redis host differs between a laptop and the cluster.
            var settings = Manifests.ComponentMetadata(inCluster);
            var localSettings = Manifests.ComponentMetadata(local[name]);
            Assert.Equal(localSettings.Keys.Order(), settings.Keys.Order());
            foreach (var (key, value) in localSettings.Where(e => e.Key != "redisHost"))
                Assert.True(value == settings[key], $"{name}: {key} is '{settings[key]}' in k8s/ but '{value}' in dapr-components/");
            Assert.Equal("redis:6379", settings["redisHost"]);
            Assert.Equal($"{redis.Metadata.Name}:{redis.Spec.Ports[0].Port}", settings["redisHost"]);
        }

        var resiliency = Assert.Single(documents, d => d.Node.Scalar("kind") == "Resiliency").Node;
        DaprComponentsTests.AssertResiliency(resiliency);
        Assert.Equal(Manifests.Flatten(Manifests.Single(Manifests.Path("dapr-components", "resiliency.yaml"))), Manifests.Flatten(resiliency));
    }

    [Fact]
    public void The_actor_host_always_runs_one_replica_and_is_not_scaled_by_keda()
    {
        var documents = AllDocuments();
        // The apps offered actors: those that load an actor state store.
        var hosts = documents.Where(d => d.Node.Scalar("kind") == "Component"
                && Manifests.ComponentMetadata(d.Node).GetValueOrDefault("actorStateStore") == "true")
            .SelectMany(d => Manifests.Scopes(d.Node)).Distinct().ToList();
        Assert.Equal([DaprNames.GatewayAppId], hosts);
        var scaled = documents.Where(d => d.Node.Scalar("kind") == "ScaledObject").Select(d => d.Node.Scalar("spec", "scaleTargetRef", "name")).ToList();
        foreach (string host in hosts)
        {
            var deployment = Typed<V1Deployment>(documents, "Deployment", host);
            Assert.Equal(host, deployment.Spec.Template.Metadata.Annotations["dapr.io/app-id"]);
            Assert.True(deployment.Spec.Replicas >= 1, $"{host} hosts the RoundActor but runs {deployment.Spec.Replicas} replicas: a round's actor would have no host");
            Assert.DoesNotContain(host, scaled);
        }
        // One gateway per federation (its task bookkeeping is in process), also during a rollout.
        var gateway = Typed<V1Deployment>(documents, "Deployment", DaprNames.GatewayAppId);
        Assert.Equal(1, gateway.Spec.Replicas);
        Assert.Equal("Recreate", gateway.Spec.Strategy?.Type);
    }

    [Fact]
    public void Every_container_serving_a_dapr_app_port_listens_on_all_interfaces_and_is_probed_there()
    {
        var documents = AllDocuments();
        var deployments = documents.Where(d => d.Node.Scalar("kind") == "Deployment")
            .Select(d => KubernetesYaml.Deserialize<V1Deployment>(d.Text, strict: true))
            .Where(d => d.Spec.Template.Metadata.Annotations?.ContainsKey("dapr.io/app-port") == true).ToList();
        Assert.Equal([DaprNames.FunctionsAppId, DaprNames.GatewayAppId], deployments.Select(d => d.Metadata.Name).Order());
        foreach (var deployment in deployments)
        {
            int appPort = int.Parse(deployment.Spec.Template.Metadata.Annotations["dapr.io/app-port"], System.Globalization.CultureInfo.InvariantCulture);
            var serving = deployment.Spec.Template.Spec.Containers.Where(c => c.Ports?.Any(p => p.ContainerPort == appPort) == true).ToList();
            Assert.True(serving.Count > 0, $"{deployment.Metadata.Name}: no container exposes the Dapr app port {appPort}");
            foreach (var container in serving)
            {
                string where = $"{deployment.Metadata.Name}/{container.Name}";
                // serve binds 127.0.0.1 unless told otherwise, which the kubelet's probes on the pod IP cannot reach.
                var args = container.Args ?? [];
                int host = args.IndexOf("--host");
                Assert.True(host >= 0 && host + 1 < args.Count && args[host + 1] == "0.0.0.0", $"{where}: args lack --host 0.0.0.0");
                var probe = container.ReadinessProbe;
                Assert.True(probe is not null, $"{where}: no readiness probe");
                var port = probe.HttpGet?.Port ?? probe.TcpSocket?.Port;
                string? value = port?.Value ?? probe.Grpc?.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
                Assert.True(value is not null, $"{where}: the readiness probe names no port");
                // A named port is the container port of that name.
                int probed = int.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out int number) ? number
                    : container.Ports.Single(p => p.Name == value).ContainerPort;
                Assert.True(probed == appPort, $"{where}: the readiness probe checks port {probed}, not the Dapr app port {appPort}");
            }
        }
    }

    [Fact]
    public void Keda_scales_the_functions_from_zero_on_the_lag_of_their_three_streams()
    {
        var documents = AllDocuments();
        var scaled = documents.Single(d => d.Node.Scalar("kind") == "ScaledObject").Node;
        Assert.Equal("keda.sh/v1alpha1", scaled.Scalar("apiVersion"));
        Assert.Equal(DaprNames.FunctionsAppId, scaled.Scalar("spec", "scaleTargetRef", "name"));
        Assert.Equal("0", scaled.Scalar("spec", "minReplicaCount"));
        var redis = Typed<V1Service>(documents, "Service", "redis");
        var triggers = ((YamlSequenceNode)scaled.Child("spec", "triggers")).Children;
        Assert.All(triggers, t =>
        {
            Assert.Equal("redis-streams", t.Scalar("type"));
            var metadata = t.Child("metadata");
            // Dapr's redis pub/sub reads with the app id as the consumer group.
            Assert.Equal(DaprNames.FunctionsAppId, metadata.Scalar("consumerGroup"));
            Assert.Equal($"{redis.Metadata.Name}:{redis.Spec.Ports[0].Port}", metadata.Scalar("address"));
            // Lag counts what no consumer has read; pending entries (read, unacknowledged) stay 0 with no consumer running.
            Assert.False(metadata.Has("pendingEntriesCount"), "pendingEntriesCount cannot wake a group that has no running consumer");
            Assert.False(metadata.Has("streamLength"), "stream length counts acknowledged entries too, so it never scales to zero");
            Assert.True(metadata.Has("lagCount") && int.TryParse(metadata.Scalar("lagCount"), out int lag) && lag >= 1, "lagCount must be a positive integer");
            // KEDA activates while lag > activationLagCount: with 0, one waiting event wakes the functions.
            Assert.True(metadata.Has("activationLagCount") && metadata.Scalar("activationLagCount") == "0", "activationLagCount must be \"0\"");
        });
        Assert.Equal([DaprNames.AggregatorDueTopic, DaprNames.PartialReadyTopic, DaprNames.UpdateArrivedTopic], triggers.Select(t => t.Scalar("metadata", "stream")).Order());
        var functions = Typed<V1Deployment>(documents, "Deployment", DaprNames.FunctionsAppId);
        Assert.Equal(0, functions.Spec.Replicas);
    }
}
