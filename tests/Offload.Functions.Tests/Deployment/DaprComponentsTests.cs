using Offload.Functions.Hosting;
using Offload.Functions.Rounds;
using YamlDotNet.RepresentationModel;

namespace Offload.Functions.Tests.Deployment;

/// <summary>dapr-components/ names exactly what the code uses.</summary>
public sealed class DaprComponentsTests
{
    [Fact]
    public void Pubsub_variants_and_state_store_carry_the_codes_names()
    {
        var redis = Manifests.Single(Manifests.Path("dapr-components", "pubsub.yaml"));
        Assert.Equal(DaprNames.PubSub, redis.Scalar("metadata", "name"));
        Assert.Equal("pubsub.redis", redis.Scalar("spec", "type"));

        var kafka = Manifests.Single(Manifests.Path("dapr-components", "kafka", "pubsub.yaml"));
        Assert.Equal(DaprNames.PubSub, kafka.Scalar("metadata", "name"));
        Assert.Equal("pubsub.kafka", kafka.Scalar("spec", "type"));

        var state = Manifests.Single(Manifests.Path("dapr-components", "statestore.yaml"));
        Assert.Equal(DaprNames.StateStore, state.Scalar("metadata", "name"));
        Assert.Equal("state.redis", state.Scalar("spec", "type"));
        Assert.Equal("true", Manifests.ComponentMetadata(state)["actorStateStore"]);

        foreach (var component in new[] { redis, kafka, state })
            Assert.Equal([DaprNames.FunctionsAppId, DaprNames.GatewayAppId], ((YamlSequenceNode)component.Child("scopes")).Children.Select(c => ((YamlScalarNode)c).Value).Order());
    }

    [Fact]
    public void Resiliency_targets_the_app_the_actor_and_both_components()
    {
        var resiliency = Manifests.Single(Manifests.Path("dapr-components", "resiliency.yaml"));
        Assert.Equal("Resiliency", resiliency.Scalar("kind"));
        var policies = (YamlMappingNode)resiliency.Child("spec", "policies");
        var targets = resiliency.Child("spec", "targets");
        var app = targets.Child("apps", DaprNames.FunctionsAppId);
        Assert.True(((YamlMappingNode)policies.Child("timeouts")).Children.ContainsKey(new YamlScalarNode(app.Scalar("timeout"))));
        Assert.True(((YamlMappingNode)policies.Child("retries")).Children.ContainsKey(new YamlScalarNode(app.Scalar("retry"))));
        Assert.True(((YamlMappingNode)policies.Child("circuitBreakers")).Children.ContainsKey(new YamlScalarNode(app.Scalar("circuitBreaker"))));
        Assert.NotNull(targets.Child("actors", DaprNames.RoundActorType));
        Assert.NotNull(targets.Child("components", DaprNames.PubSub, "outbound"));
        Assert.NotNull(targets.Child("components", DaprNames.PubSub, "inbound"));
        Assert.NotNull(targets.Child("components", DaprNames.StateStore, "outbound"));
    }

    [Fact]
    public void The_multi_app_run_file_starts_gateway_and_functions_on_the_codes_ports()
    {
        var run = Manifests.Single(Manifests.Path("dapr-components", "dapr.yaml"));
        Assert.Equal("./config.yaml", run.Scalar("common", "configFilePath"));
        Assert.True(File.Exists(Manifests.Path("dapr-components", "config.yaml")));
        var apps = ((YamlSequenceNode)run.Child("apps")).Children.ToDictionary(a => a.Scalar("appID"));
        Assert.Equal([DaprNames.FunctionsAppId, DaprNames.GatewayAppId], apps.Keys.Order());
        var functions = apps[DaprNames.FunctionsAppId];
        Assert.Equal(DaprNames.FunctionsPort.ToString(), functions.Scalar("appPort"));
        Assert.Equal("http", functions.Scalar("appProtocol"));
        var command = ((YamlSequenceNode)functions.Child("command")).Children.Select(c => ((YamlScalarNode)c).Value).ToList();
        Assert.Contains("--dapr", command);
        Assert.Equal(DaprNames.FunctionsPort.ToString(), command[command.IndexOf("--port") + 1]);
        var gateway = apps[DaprNames.GatewayAppId];
        Assert.Equal(DaprNames.GatewayAppPort.ToString(), gateway.Scalar("appPort"));
        Assert.Equal("http", gateway.Scalar("appProtocol"));
        var gatewayCommand = ((YamlSequenceNode)gateway.Child("command")).Children.Select(c => ((YamlScalarNode)c).Value).ToList();
        Assert.Equal("dapr", gatewayCommand[gatewayCommand.IndexOf("--aggregator") + 1]);
        Assert.Equal(DaprNames.GatewayAppPort.ToString(), gatewayCommand[gatewayCommand.IndexOf("--app-port") + 1]);
        Assert.Equal(DaprNames.GatewayPort.ToString(), gatewayCommand[gatewayCommand.IndexOf("--port") + 1]);
        Assert.Equal(nameof(RoundActor), DaprNames.RoundActorType);
    }
}
