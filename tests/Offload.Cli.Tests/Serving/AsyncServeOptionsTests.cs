using Offload.Aggregator.Rounds;
using Offload.Aggregator.Strategies;
using Offload.Cli.Serving;

namespace Offload.Cli.Tests.Serving;

public class AsyncServeOptionsTests
{
    [Fact]
    public void Asynchronous_settings_are_checked_naming_the_option()
    {
        Assert.True(new ServeOptions { Asynchronous = true, BufferSize = 5, Concurrency = 8, Corrector = "inversion" }.Validate().Asynchronous);
        Assert.StartsWith("--buffer", Assert.Throws<InvalidOptionException>(() => new ServeOptions { Asynchronous = true, BufferSize = -1 }.Validate()).Message);
        Assert.StartsWith("--max-staleness", Assert.Throws<InvalidOptionException>(() => new ServeOptions { Asynchronous = true, MaxStaleness = -1 }.Validate()).Message);
        Assert.StartsWith("--history-mb", Assert.Throws<InvalidOptionException>(() => new ServeOptions { Asynchronous = true, HistoryMegabytes = double.NaN }.Validate()).Message);
        Assert.StartsWith("--corrector", Assert.Throws<InvalidOptionException>(() => new ServeOptions { Asynchronous = true, Corrector = "magic" }.Validate()).Message);
        Assert.StartsWith("--correction-queue", Assert.Throws<InvalidOptionException>(() => new ServeOptions { Asynchronous = true, CorrectionQueue = 0 }.Validate()).Message);
        Assert.StartsWith("--buffer and --concurrency are for --mode async", Assert.Throws<InvalidOptionException>(() => new ServeOptions { BufferSize = 4 }.Validate()).Message);
    }

    [Fact]
    public void What_asynchronous_aggregation_does_not_do_is_refused_rather_than_ignored()
    {
        Assert.True(new ServeOptions { Asynchronous = true, DaprAggregator = true }.Validate().DaprAggregator);
        Assert.Contains("--node-store", Assert.Throws<InvalidOptionException>(() => new ServeOptions { Asynchronous = true, DaprAggregator = true, NodeStorePath = "/dev/shm/offload-x" }.Validate()).Message);
        Assert.Contains("--state", Assert.Throws<InvalidOptionException>(() => new ServeOptions { Asynchronous = true, StateDirectory = "/tmp/x" }.Validate()).Message);
        Assert.Contains("--downstream", Assert.Throws<InvalidOptionException>(() => new ServeOptions { Asynchronous = true, Downstream = DownstreamMode.FedZip }.Validate()).Message);
        Assert.Contains("--hierarchy", Assert.Throws<InvalidOptionException>(() => new ServeOptions { Asynchronous = true, HierarchyFanIn = 4 }.Validate()).Message);
        Assert.Contains("FedBuff", Assert.Throws<InvalidOptionException>(() => new ServeOptions { Asynchronous = true, Strategy = new FedAvgM(0.9) }.Validate()).Message);
        Assert.True(new ServeOptions { Asynchronous = true, Strategy = new FedAvg(0.5) }.Validate().Asynchronous);
    }
}
