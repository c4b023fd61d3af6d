using Offload.Cli.Commands;
using Offload.Cli.Serving;

namespace Offload.Cli.Tests.Serving;

public class ServeOptionsTests
{
    [Fact]
    public void Ingest_bounds_default_to_auto_and_take_numbers()
    {
        Assert.Null(ServeCommand.ParseAuto("--max-update-norm", "auto"));
        Assert.Equal(12.5, ServeCommand.ParseAuto("--max-update-norm", "12.5"));
        Assert.Null(ServeCommand.ParseSamples("AUTO"));
        Assert.Equal(5000L, ServeCommand.ParseSamples("5000"));
        var valid = new ServeOptions { MaxUpdateNorm = 3, MaxSamples = 10, UploadIdleTimeoutSeconds = 5 }.Validate();
        Assert.Equal((3.0, 10L), (valid.MaxUpdateNorm!.Value, valid.MaxSamples!.Value));
    }

    [Theory]
    [InlineData("--max-update-norm", "lots")]
    [InlineData("--max-samples", "2.5")]
    [InlineData("--max-samples", "many")]
    public void A_bad_bound_is_refused_naming_the_option(string option, string value)
    {
        var e = Assert.Throws<InvalidOptionException>(() => option == "--max-samples" ? ServeCommand.ParseSamples(value) : ServeCommand.ParseAuto(option, value));
        Assert.StartsWith(option, e.Message);
    }

    [Fact]
    public void Out_of_range_ingest_settings_are_refused_naming_the_option()
    {
        Assert.StartsWith("--max-update-norm", Assert.Throws<InvalidOptionException>(() => new ServeOptions { MaxUpdateNorm = -1 }.Validate()).Message);
        Assert.StartsWith("--max-samples", Assert.Throws<InvalidOptionException>(() => new ServeOptions { MaxSamples = 0 }.Validate()).Message);
        Assert.StartsWith("--upload-idle-timeout", Assert.Throws<InvalidOptionException>(() => new ServeOptions { UploadIdleTimeoutSeconds = 0 }.Validate()).Message);
    }

    [Fact]
    public void Node_store_settings_are_checked_and_the_store_serves_both_aggregators()
    {
        Assert.StartsWith("--node-store", Assert.Throws<InvalidOptionException>(() => new ServeOptions { NodeStorePath = " " }.Validate()).Message);
        Assert.StartsWith("--node-store-mb", Assert.Throws<InvalidOptionException>(() => new ServeOptions { NodeStorePath = "/dev/shm/x", NodeStoreMegabytes = 0.5 }.Validate()).Message);
        Assert.StartsWith("--node-store-mb", Assert.Throws<InvalidOptionException>(() => new ServeOptions { NodeStorePath = "/dev/shm/x", NodeStoreMegabytes = double.NaN }.Validate()).Message);
        // With the Dapr functions, updates and partials stay on the node and models go through the state store.
        Assert.Equal("/dev/shm/x", new ServeOptions { NodeStorePath = "/dev/shm/x", DaprAggregator = true }.Validate().NodeStorePath);
    }

    [Theory]
    [InlineData("node-b")]
    [InlineData("node-b=")]
    [InlineData("=http://10.0.0.2:5110")]
    [InlineData("node b=http://10.0.0.2:5110")]
    [InlineData("node-b=ftp://10.0.0.2")]
    [InlineData("node-b=10.0.0.2:5110")]
    public void A_bad_node_peer_is_refused_naming_the_option(string value)
    {
        var e = Assert.Throws<InvalidOptionException>(() => ServeOptions.ParseNodePeers([value]));
        Assert.StartsWith("--node-peer must be NAME=URL", e.Message);
        Assert.Contains(value, e.Message);
    }

    [Fact]
    public void Node_names_and_peers_are_checked_together()
    {
        var peers = ServeOptions.ParseNodePeers(["node-b=http://10.0.0.2:5110", "node-c=https://node-c:5110"]);
        Assert.Equal(new Uri("http://10.0.0.2:5110"), peers["node-b"]);
        Assert.Contains("twice", Assert.Throws<InvalidOptionException>(() => ServeOptions.ParseNodePeers(["n=http://a", "n=http://b"])).Message);
        Assert.StartsWith("--node-name", Assert.Throws<InvalidOptionException>(() => new ServeOptions { NodeName = "node/a" }.Validate()).Message);
        Assert.StartsWith("--node-name", Assert.Throws<InvalidOptionException>(() => new ServeOptions { NodeName = "" }.Validate()).Message);
        Assert.StartsWith("--node-peer must name other nodes",
            Assert.Throws<InvalidOptionException>(() => new ServeOptions { NodeName = "node-b", NodeStorePath = "/dev/shm/x", NodePeers = peers }.Validate()).Message);
        Assert.StartsWith("--node-peer needs --node-store", Assert.Throws<InvalidOptionException>(() => new ServeOptions { NodeName = "node-a", NodePeers = peers }.Validate()).Message);
        Assert.Equal(2, new ServeOptions { NodeName = "node-a", NodeStorePath = "/dev/shm/x", NodePeers = peers }.Validate().NodePeers.Count);
    }
}
