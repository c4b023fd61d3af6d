using Offload.Core.Federation;

namespace Offload.Core.Tests.Federation;

public class ClientSeedTests
{
    [Fact]
    public void Seeds_are_fixed_numbers_so_every_process_derives_the_same()
    {
        // Golden values: a change here changes every run's training across processes and the simulator.
        Assert.Equal(578315779, ClientSeed.For(42, 1, 0));
        Assert.Equal(304912983, ClientSeed.For(42, 1, 1));
        Assert.Equal(1511316904, ClientSeed.For(42, 2, 0));
        Assert.Equal(1232892406, ClientSeed.For(43, 1, 0));
        Assert.Equal(459667424, ClientSeed.For(7, 3, -1));
        int[] seeds = [ClientSeed.For(42, 1, 0), ClientSeed.For(42, 1, 1), ClientSeed.For(42, 2, 0), ClientSeed.For(43, 1, 0)];
        Assert.Equal(seeds.Length, seeds.Distinct().Count());
        Assert.All(seeds, s => Assert.InRange(s, 0, int.MaxValue));
    }

    [Fact]
    public void Seeds_spread_over_many_rounds_and_clients()
    {
        var seen = new HashSet<int>();
        for (int round = 1; round <= 50; round++)
            for (int client = 0; client < 200; client++)
                seen.Add(ClientSeed.For(7, round, client));
        Assert.True(seen.Count >= 9_990, $"{seen.Count} distinct seeds of 10,000");
    }
}
