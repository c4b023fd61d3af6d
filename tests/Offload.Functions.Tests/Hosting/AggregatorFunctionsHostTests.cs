using System.Net;
using Microsoft.AspNetCore.TestHost;
using System.Text.Json.Nodes;
using Offload.Functions.Hosting;
using Offload.Functions.Names;

namespace Offload.Functions.Tests.Hosting;

public sealed class AggregatorFunctionsHostTests
{
    [Fact]
    public async Task Serve_dapr_host_answers_the_sidecars_discovery_calls_on_its_port()
    {
        await using var app = await AggregatorFunctionsHost.StartAsync(IPAddress.Loopback, 0);
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
        var subscriptions = JsonNode.Parse(await http.GetStringAsync("/dapr/subscribe"))!.AsArray();
        Assert.Equal([DaprNames.AggregatorDueTopic, DaprNames.PartialReadyTopic, DaprNames.RoundOpenedTopic, DaprNames.UpdateArrivedTopic],
            subscriptions.Select(s => s!["topic"]!.GetValue<string>()).Order());
        // What a scaler must wake the functions for (offload deploy check holds the ScaledObjects to it).
        Assert.Equal(subscriptions.Select(s => s!["topic"]!.GetValue<string>()).Order(), DaprNames.WakingTopicsOf(DaprNames.FunctionsAppId).Order());
        // No actors here: the gateway's app hosts the RoundActor.
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/dapr/config")).StatusCode);
    }

    [Fact]
    public async Task The_corrector_app_subscribes_to_exactly_what_a_scaler_must_wake_it_for()
    {
        await using var cluster = Sidecar.DaprCluster.FromComponents();
        await using var app = await EndToEnd.DaprAsynchronousTests.StartCorrectorAsync(cluster, TestFederation.FlatLayout(4));
        var subscriptions = JsonNode.Parse(await app.GetTestClient().GetStringAsync("/dapr/subscribe"))!.AsArray();
        Assert.Equal(DaprNames.WakingTopicsOf(DaprNames.CorrectorAppId).Order(), subscriptions.Select(s => s!["topic"]!.GetValue<string>()).Order());
    }

    [Fact]
    public async Task Offload_serve_dapr_parses_and_rejects_a_bad_port()
    {
        var root = Offload.Cli.Commands.ServeCommand.Create();
        var parsed = root.Parse(["--dapr", "--port", "5100"]);
        Assert.Empty(parsed.Errors);
        var bad = root.Parse(["--dapr", "--port", "70000"]);
        try
        {
            Assert.NotEqual(0, await bad.InvokeAsync(new System.CommandLine.InvocationConfiguration { EnableDefaultExceptionHandler = false, Error = TextWriter.Null, Output = TextWriter.Null }));
        }
        catch (Offload.Cli.InvalidOptionException e)
        {
            Assert.Contains("--port", e.Message);
        }
    }
}
