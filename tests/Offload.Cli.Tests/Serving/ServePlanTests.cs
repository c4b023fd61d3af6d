using Offload.Cli.Commands;
using Offload.Cli.Serving;
using Offload.Functions.Names;

namespace Offload.Cli.Tests.Serving;

/// <summary>ServeCommand.Plan: what a serve command line runs, checked as the command checks it, without reading a file.</summary>
public sealed class ServePlanTests
{
    [Fact]
    public void Each_form_of_serve_is_the_app_it_names_on_its_default_port()
    {
        var functions = ServeCommand.Plan(["--dapr", "--host", "0.0.0.0"], endpointsConfigured: false);
        Assert.Equal((ServeRole.Functions, DaprNames.FunctionsPort, "0.0.0.0"), (functions.Role, functions.Options.Port, functions.Options.Host));
        var corrector = ServeCommand.Plan(["--dapr", "--corrector", "inversion", "--hidden", "16"], endpointsConfigured: false);
        Assert.Equal((ServeRole.Corrector, DaprNames.CorrectorPort, "inversion", 16), (corrector.Role, corrector.Options.Port, corrector.Options.Corrector, corrector.Options.Hidden));
        var agent = ServeCommand.Plan(["--node-agent", "--node-store", "/dev/shm/offload-plan-test"], endpointsConfigured: false);
        Assert.Equal((ServeRole.NodeAgent, ServeOptions.NodeAgentPort), (agent.Role, agent.Options.Port));
        var gateway = ServeCommand.Plan(["--aggregator", "dapr", "--tokens", "/no/such/tokens.txt", "--mode", "async", "--corrector", "dc-asgd"], endpointsConfigured: false);
        Assert.Equal((ServeRole.Gateway, true, true, DaprNames.GatewayPort), (gateway.Role, gateway.Options.DaprAggregator, gateway.Options.Asynchronous, gateway.Options.Port));
        // Files are named, not read: the tokens file lives in a secret the plan never sees.
        Assert.Equal(["/no/such/tokens.txt"], gateway.TokenFiles);
        Assert.False(File.Exists("/dev/shm/offload-plan-test"));
    }

    [Fact]
    public void Kestrel_endpoints_from_the_environment_leave_the_default_port_unbound()
    {
        Assert.Null(ServeCommand.Plan(["--aggregator", "dapr"], endpointsConfigured: true).Options.Port);
        Assert.Equal(7000, ServeCommand.Plan(["--port", "7000"], endpointsConfigured: true).Options.Port);
    }

    [Fact]
    public void What_the_command_refuses_the_plan_refuses_naming_the_option()
    {
        Assert.Contains("--mode", Assert.Throws<InvalidOptionException>(() => ServeCommand.Plan(["--mode", "sometimes"], false)).Message);
        Assert.Contains("--bogus", Assert.Throws<InvalidOptionException>(() => ServeCommand.Plan(["--bogus"], false)).Message);
        Assert.Contains("--node-store", Assert.Throws<InvalidOptionException>(() => ServeCommand.Plan(["--mode", "async", "--aggregator", "dapr", "--node-store", "/dev/shm/x"], false)).Message);
        Assert.Contains("--port", Assert.Throws<InvalidOptionException>(() => ServeCommand.Plan(["--dapr", "--port", "70000"], false)).Message);
        Assert.Contains("--node-agent", Assert.Throws<InvalidOptionException>(() => ServeCommand.Plan(["--node-agent"], false)).Message);
    }
}
