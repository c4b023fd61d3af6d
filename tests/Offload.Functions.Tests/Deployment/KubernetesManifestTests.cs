using k8s;
using k8s.Models;
using Offload.Functions.Hosting;
using YamlDotNet.RepresentationModel;

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
        Assert.Equal([DaprNames.PubSub, DaprNames.StateStore], components.Keys.Order());
        foreach (var (file, name) in new[] { ("pubsub.yaml", DaprNames.PubSub), ("statestore.yaml", DaprNames.StateStore) })
        {
            var local = Manifests.Single(Manifests.Path("dapr-components", file));
            Assert.Equal(local.Scalar("spec", "type"), components[name].Scalar("spec", "type"));
            // Same settings; only hosts differ between a laptop and the cluster.
            var inCluster = Manifests.ComponentMetadata(components[name]);
            Assert.Equal(Manifests.ComponentMetadata(local).Keys.Order(), inCluster.Keys.Order());
            Assert.Equal("redis:6379", inCluster["redisHost"]);
        }
        Assert.Equal("true", Manifests.ComponentMetadata(components[DaprNames.StateStore])["actorStateStore"]);
        Assert.Single(documents, d => d.Node.Scalar("kind") == "Resiliency");
    }

    [Fact]
    public void Keda_scales_the_functions_to_zero_on_their_redis_streams()
    {
        var documents = AllDocuments();
        var scaled = documents.Single(d => d.Node.Scalar("kind") == "ScaledObject").Node;
        Assert.Equal("keda.sh/v1alpha1", scaled.Scalar("apiVersion"));
        Assert.Equal(DaprNames.FunctionsAppId, scaled.Scalar("spec", "scaleTargetRef", "name"));
        Assert.Equal("0", scaled.Scalar("spec", "minReplicaCount"));
        var triggers = ((YamlSequenceNode)scaled.Child("spec", "triggers")).Children;
        Assert.All(triggers, t =>
        {
            Assert.Equal("redis-streams", t.Scalar("type"));
            Assert.Equal(DaprNames.FunctionsAppId, t.Scalar("metadata", "consumerGroup"));
            var redis = Typed<V1Service>(documents, "Service", "redis");
            Assert.Equal($"{redis.Metadata.Name}:{redis.Spec.Ports[0].Port}", t.Scalar("metadata", "address"));
        });
        Assert.Equal([DaprNames.PartialReadyTopic, DaprNames.UpdateArrivedTopic], triggers.Select(t => t.Scalar("metadata", "stream")).Order());
        var functions = Typed<V1Deployment>(documents, "Deployment", DaprNames.FunctionsAppId);
        Assert.Equal(0, functions.Spec.Replicas);
    }
}
