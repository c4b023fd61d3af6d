using Offload.Aggregator.Strategies;

namespace Offload.Aggregator.Tests.Strategies;

public class ServerStateTests
{
    [Fact]
    public void Round_trips_rounds_and_vectors()
    {
        var state = new ServerState("fedadam:eta=0.01") { Rounds = 7 };
        state.Vector("m", 3)[1] = 2.5f;
        state.Vector("v", 3, 0.5f)[2] = -1f;
        var back = ServerState.Decode(state.Encode(), "fedadam:eta=0.01", 3);
        Assert.Equal(7, back.Rounds);
        Assert.Equal(["m", "v"], back.VectorNames);
        Assert.Equal(new[] { 0f, 2.5f, 0f }, back.Vector("m", 3).ToArray());
        Assert.Equal(new[] { 0.5f, 0.5f, -1f }, back.Vector("v", 3).ToArray());
    }

    [Fact]
    public void A_damaged_or_foreign_state_is_refused_with_the_reason()
    {
        var state = new ServerState("fedavgm:eta=1,beta=0.9") { Rounds = 2 };
        state.Vector("momentum", 4)[0] = 1;
        var bytes = state.Encode();
        Assert.Contains("belongs to strategy 'fedavgm:eta=1,beta=0.9'", Refuse(bytes, "fedyogi", 4));
        Assert.Contains("holds 4 values; the model has 5", Refuse(bytes, state.Strategy, 5));
        var flipped = (byte[])bytes.Clone();
        flipped[^8] ^= 1;
        Assert.Contains("CRC-32C", Refuse(flipped, state.Strategy, 4));
        Assert.Contains("at least 23 bytes", Refuse(bytes[..10], state.Strategy, 4));
        // Truncations anywhere are refused, never read past the end.
        for (int cut = 0; cut < bytes.Length; cut++) Refuse(bytes[..cut], state.Strategy, 4);
    }

    [Fact]
    public void A_vector_asked_for_with_another_length_throws()
    {
        var state = new ServerState("fedadam");
        state.Vector("m", 3);
        Assert.Throws<InvalidOperationException>(() => state.Vector("m", 4));
    }

    private static string Refuse(byte[] bytes, string strategy, int length) =>
        Assert.Throws<InvalidDataException>(() => ServerState.Decode(bytes, strategy, length)).Message;
}
