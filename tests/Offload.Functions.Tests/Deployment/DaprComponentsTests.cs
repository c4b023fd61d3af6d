using Offload.Functions.Names;
using Offload.Functions.Rounds;
using YamlDotNet.RepresentationModel;

namespace Offload.Functions.Tests.Deployment;

/// <summary>dapr-components/ names exactly what the code uses.</summary>
public sealed class DaprComponentsTests
{
    /// <summary>The components every sidecar loads from a folder (dapr-components/ or k8s/dapr/), by name.</summary>
    internal static Dictionary<string, YamlMappingNode> Components(string folder) =>
        Directory.GetFiles(folder, "*.yaml").SelectMany(Manifests.Documents)
            .Where(d => d.Node.Has("kind") && d.Node.Scalar("kind") == "Component")
            .ToDictionary(d => d.Node.Scalar("metadata", "name"), d => d.Node);

    [Fact]
    public void Pubsub_variants_carry_the_codes_name_and_are_loaded_by_both_apps()
    {
        var redis = Manifests.Single(Manifests.Path("dapr-components", "pubsub.yaml"));
        Assert.Equal(DaprNames.PubSub, redis.Scalar("metadata", "name"));
        Assert.Equal("pubsub.redis", redis.Scalar("spec", "type"));

        var kafka = Manifests.Single(Manifests.Path("dapr-components", "kafka", "pubsub.yaml"));
        Assert.Equal(DaprNames.PubSub, kafka.Scalar("metadata", "name"));
        Assert.Equal("pubsub.kafka", kafka.Scalar("spec", "type"));

        foreach (var component in new[] { redis, kafka })
            Assert.Equal([DaprNames.FunctionsAppId, DaprNames.CorrectorAppId, DaprNames.GatewayAppId], Manifests.Scopes(component));
    }

    [Fact]
    public void The_shared_state_store_keeps_keys_unprefixed_and_holds_no_actors()
    {
        var state = Manifests.Single(Manifests.Path("dapr-components", "statestore.yaml"));
        Assert.Equal(DaprNames.StateStore, state.Scalar("metadata", "name"));
        Assert.Equal("state.redis", state.Scalar("spec", "type"));
        var metadata = Manifests.ComponentMetadata(state);
        // Without it daprd prefixes each key with the calling app's id, and neither app finds what the other wrote.
        Assert.Equal("none", metadata.GetValueOrDefault("keyPrefix"));
        Assert.False(metadata.ContainsKey("actorStateStore"), "offload-state must not be the actor state store: an app loads exactly one, offload-actor-state");
        Assert.Equal([DaprNames.FunctionsAppId, DaprNames.CorrectorAppId, DaprNames.GatewayAppId], Manifests.Scopes(state));
    }

    [Fact]
    public void The_actor_state_store_is_the_only_one_and_only_the_gateway_loads_it()
    {
        var actors = Manifests.Single(Manifests.Path("dapr-components", "actorstatestore.yaml"));
        Assert.Equal(DaprNames.ActorStateStore, actors.Scalar("metadata", "name"));
        Assert.Equal("state.redis", actors.Scalar("spec", "type"));
        Assert.Equal("true", Manifests.ComponentMetadata(actors).GetValueOrDefault("actorStateStore"));
        // The gateway hosts the RoundActor; the functions, scaled to zero, must not be offered actors.
        Assert.Equal([DaprNames.GatewayAppId], Manifests.Scopes(actors));
        var actorStores = Components(Manifests.Path("dapr-components"))
            .Where(c => Manifests.ComponentMetadata(c.Value).GetValueOrDefault("actorStateStore") == "true").Select(c => c.Key);
        Assert.Equal([DaprNames.ActorStateStore], actorStores);
    }

    [Fact]
    public void Resiliency_targets_the_actor_and_the_three_components_with_policies_that_exist()
    {
        AssertResiliency(Manifests.Single(Manifests.Path("dapr-components", "resiliency.yaml")));
    }

    /// <summary>
    /// The RoundActor and the pub/sub (both directions) and both state stores are targets, and every
    /// policy a target names is defined: daprd rejects a resiliency spec naming one that is not.
    /// </summary>
    internal static void AssertResiliency(YamlMappingNode resiliency)
    {
        Assert.Equal("Resiliency", resiliency.Scalar("kind"));
        Assert.Equal([DaprNames.FunctionsAppId, DaprNames.CorrectorAppId, DaprNames.GatewayAppId], Manifests.Scopes(resiliency));
        var policies = resiliency.Child("spec", "policies");
        var targets = resiliency.Child("spec", "targets");
        Assert.Equal([DaprNames.RoundActorType], targets.Child("actors").Keys());
        Assert.Equal([DaprNames.ActorStateStore, DaprNames.PubSub, DaprNames.StateStore], targets.Child("components").Keys().Order());
        Assert.True(targets.Child("components", DaprNames.PubSub).Has("inbound"), "event deliveries into the apps need a policy");
        foreach (var component in new[] { DaprNames.PubSub, DaprNames.StateStore, DaprNames.ActorStateStore })
            Assert.True(targets.Child("components", component).Has("outbound"), $"{component} needs an outbound policy");

        var named = new List<(string Where, YamlNode Target)>();
        foreach (string section in targets.Keys())
            foreach (string name in targets.Child(section).Keys())
            {
                var target = targets.Child(section, name);
                if (section == "components")
                    named.AddRange(target.Keys().Select(direction => ($"{section}/{name}/{direction}", target.Child(direction))));
                else
                    named.Add(($"{section}/{name}", target));
            }
        var kinds = new[] { ("timeout", "timeouts"), ("retry", "retries"), ("circuitBreaker", "circuitBreakers") };
        foreach (var (where, target) in named)
        {
            Assert.True(kinds.Any(k => target.Has(k.Item1)), $"{where} names no policy");
            foreach (var (field, policy) in kinds)
                if (target.Has(field))
                    Assert.True(policies.Has(policy) && policies.Child(policy).Has(target.Scalar(field)),
                        $"{where} names {field} '{target.Scalar(field)}', which spec.policies.{policy} does not define");
        }
    }

    [Fact]
    public void The_multi_app_run_file_starts_the_built_cli_as_gateway_and_functions_on_the_codes_ports()
    {
        var run = Manifests.Single(Manifests.Path("dapr-components", "dapr.yaml"));
        Assert.Equal("./config.yaml", run.Scalar("common", "configFilePath"));
        Assert.True(File.Exists(Manifests.Path("dapr-components", "config.yaml")));
        var apps = ((YamlSequenceNode)run.Child("apps")).Children.ToDictionary(a => a.Scalar("appID"));
        Assert.Equal([DaprNames.FunctionsAppId, DaprNames.GatewayAppId], apps.Keys.Order());

        // Both apps run what scripts/dapr-run.sh built once, where a Release build of the CLI puts it.
        string script = File.ReadAllText(Manifests.Path("scripts", "dapr-run.sh"));
        Assert.Contains("dotnet build cli/Offload.Cli -c Release", script);
        Assert.Contains("dapr run -f dapr-components/dapr.yaml", script);
        var cli = typeof(global::Offload.Cli.CommandLineEntry).Assembly;
        string tfm = Path.GetFileName(Path.GetDirectoryName(cli.Location))!;
        string dll = $"cli/Offload.Cli/bin/Release/{tfm}/{cli.GetName().Name}.dll";
        foreach (var app in apps.Values)
        {
            Assert.Equal("../", app.Scalar("appDirPath"));
            Assert.Equal("http", app.Scalar("appProtocol"));
            var command = app.Child("command").Strings();
            Assert.Equal(["dotnet", dll], command.Take(2));
            Assert.DoesNotContain("run", command);
            // Where the sidecar calls its app: daprd's app channel address, 127.0.0.1 by default.
            Assert.Equal(app.Has("appChannelAddress") ? app.Scalar("appChannelAddress") : "127.0.0.1", command[command.IndexOf("--host") + 1]);
        }

        var functions = apps[DaprNames.FunctionsAppId];
        Assert.Equal(DaprNames.FunctionsPort.ToString(), functions.Scalar("appPort"));
        var functionsCommand = functions.Child("command").Strings();
        Assert.Equal("serve", functionsCommand[2]);
        Assert.Contains("--dapr", functionsCommand);
        Assert.DoesNotContain("--tokens", functionsCommand);
        Assert.Equal(DaprNames.FunctionsPort.ToString(), functionsCommand[functionsCommand.IndexOf("--port") + 1]);

        var gateway = apps[DaprNames.GatewayAppId];
        Assert.Equal(DaprNames.GatewayAppPort.ToString(), gateway.Scalar("appPort"));
        var gatewayCommand = gateway.Child("command").Strings();
        Assert.Equal("serve", gatewayCommand[2]);
        Assert.Equal("dapr", gatewayCommand[gatewayCommand.IndexOf("--aggregator") + 1]);
        Assert.Equal(DaprNames.GatewayAppPort.ToString(), gatewayCommand[gatewayCommand.IndexOf("--app-port") + 1]);
        Assert.Equal(DaprNames.GatewayPort.ToString(), gatewayCommand[gatewayCommand.IndexOf("--port") + 1]);
        Assert.Equal(nameof(RoundActor), DaprNames.RoundActorType);
    }

    [Fact]
    public void The_asynchronous_run_file_adds_the_corrector_and_its_commands_parse()
    {
        var run = Manifests.Single(Manifests.Path("dapr-components", "dapr-async.yaml"));
        var apps = ((YamlSequenceNode)run.Child("apps")).Children.ToDictionary(a => a.Scalar("appID"));
        Assert.Equal([DaprNames.FunctionsAppId, DaprNames.CorrectorAppId, DaprNames.GatewayAppId], apps.Keys.Order());
        var corrector = apps[DaprNames.CorrectorAppId];
        Assert.Equal(DaprNames.CorrectorPort.ToString(), corrector.Scalar("appPort"));
        var correctorCommand = corrector.Child("command").Strings();
        Assert.Equal(["serve", "--dapr", "--corrector"], correctorCommand.Skip(2).Take(3));
        Assert.Equal(DaprNames.CorrectorPort.ToString(), correctorCommand[correctorCommand.IndexOf("--port") + 1]);
        var gatewayCommand = apps[DaprNames.GatewayAppId].Child("command").Strings();
        Assert.Equal("async", gatewayCommand[gatewayCommand.IndexOf("--mode") + 1]);
        Assert.Equal("dapr", gatewayCommand[gatewayCommand.IndexOf("--aggregator") + 1]);
        // Both name the same corrector: the gateway sends stale updates only when it is one the corrector app runs.
        Assert.Equal(correctorCommand[correctorCommand.IndexOf("--corrector") + 1], gatewayCommand[gatewayCommand.IndexOf("--corrector") + 1]);
        // Every command parses: a misspelt option fails here, not under dapr run.
        var cli = new System.CommandLine.RootCommand();
        cli.Subcommands.Add(global::Offload.Cli.Commands.ServeCommand.Create());
        foreach (var app in apps.Values)
        {
            var parsed = cli.Parse(app.Child("command").Strings().Skip(2).ToArray());
            Assert.True(parsed.Errors.Count == 0, $"{app.Scalar("appID")}: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
        }
        Assert.Contains("dapr-components/dapr-async.yaml", File.ReadAllText(Manifests.Path("scripts", "dapr-run.sh")));
    }

    [Fact]
    public void The_run_script_is_executable_and_stops_on_the_first_failure()
    {
        string script = Manifests.Path("scripts", "dapr-run.sh");
        Assert.StartsWith("#!/usr/bin/env bash\n", File.ReadAllText(script));
        Assert.Contains("set -euo pipefail", File.ReadAllText(script));
        if (!OperatingSystem.IsWindows())
            Assert.True(File.GetUnixFileMode(script).HasFlag(UnixFileMode.UserExecute), "scripts/dapr-run.sh is not executable");
        Assert.Contains("command -v dapr", File.ReadAllText(script));
    }
}
