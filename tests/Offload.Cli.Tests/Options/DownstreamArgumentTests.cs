using Offload.Aggregator.Rounds;
using Offload.Cli.Options;

namespace Offload.Cli.Tests.Options;

public class DownstreamArgumentTests
{
    [Theory]
    [InlineData("full", DownstreamMode.Full, 0.1, 8, "full")]
    [InlineData("None", DownstreamMode.Full, 0.1, 8, "full")]
    [InlineData("fedzip", DownstreamMode.FedZip, 0.1, 8, "fedzip:0.1:8")]
    [InlineData("fedzip:0.01", DownstreamMode.FedZip, 0.01, 8, "fedzip:0.01:8")]
    [InlineData("FedZip:0.05", DownstreamMode.FedZip, 0.05, 8, "fedzip:0.05:8")]
    [InlineData("fedzip:0.1:16", DownstreamMode.FedZip, 0.1, 16, "fedzip:0.1:16")]
    public void Reads_the_mode_and_the_fedzip_settings(string text, DownstreamMode mode, double topZ, int clusters, string formatted)
    {
        var (parsedMode, fedZip) = DownstreamArgument.Parse(text);
        Assert.Equal((mode, topZ, clusters), (parsedMode, fedZip.TopZ, fedZip.Clusters));
        Assert.Equal(formatted, DownstreamArgument.Format(parsedMode, fedZip));
    }

    [Theory]
    [InlineData("zip")]
    [InlineData("full:0.1")]
    [InlineData("fedzip:")]
    [InlineData("fedzip:0")]
    [InlineData("fedzip:1.5")]
    [InlineData("fedzip:0.01:300")]
    [InlineData("fedzip:0.01:-1")]
    [InlineData("fedzip:0.01:8:1")]
    public void Refuses_anything_else_naming_the_option(string text)
    {
        var error = Assert.Throws<InvalidOptionException>(() => DownstreamArgument.Parse(text));
        Assert.Contains("--downstream", error.Message);
    }
}
