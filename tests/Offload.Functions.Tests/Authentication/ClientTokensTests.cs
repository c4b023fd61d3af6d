using Grpc.Core;
using Offload.Aggregator.Rounds;
using Offload.Client.Federation;
using Offload.Gateway.Authentication;

namespace Offload.Functions.Tests.Authentication;

public class ClientTokensTests
{
    [Fact]
    public void Tokens_resolve_to_their_client_and_short_or_shared_tokens_are_refused()
    {
        var tokens = new ClientTokens();
        tokens.Add("alice", "alice-secret");
        Assert.Equal("alice", tokens.Resolve("alice-secret")?.ClientId);
        Assert.Null(tokens.Resolve("alice-secreT"));
        Assert.Null(tokens.Resolve(null));
        Assert.Throws<ArgumentException>(() => tokens.Add("bob", "short"));
        Assert.Throws<ArgumentException>(() => tokens.Add("bob", "alice-secret"));
        Assert.Throws<ArgumentException>(() => tokens.Add("bob", "has a space"));
    }

    [Fact]
    public void A_token_file_names_clients_or_numbers_them()
    {
        var path = Path.GetTempFileName();
        File.WriteAllLines(path, ["# devices", "", "phone-1 token-of-phone-1", "token-without-id"]);
        var tokens = new ClientTokens();
        tokens.AddFile(path);
        Assert.Equal("phone-1", tokens.Resolve("token-of-phone-1")?.ClientId);
        Assert.Equal("client-1", tokens.Resolve("token-without-id")?.ClientId);
        File.WriteAllLines(path, ["a b c"]);
        Assert.Contains(":1:", Assert.Throws<FormatException>(() => new ClientTokens().AddFile(path)).Message);
    }

    [Fact]
    public async Task An_enrollment_code_is_spent_once_for_a_token_that_then_works()
    {
        await using var federation = await TestFederation.StartAsync(TestFederation.FlatLayout(16), new float[16],
            new RoundOptions { MinClients = 1, Rounds = 1 }, clients: 0);
        federation.Tokens.AddEnrollmentCode("one-time-code-1", "tablet-7");
        using var client = new FederatedClientBuilder(federation.Server.Address).WithEnrollmentCode("one-time-code-1").Build();
        var task = await client.GetTaskAsync(); // Enrolls on first use.
        Assert.Equal("tablet-7", client.ClientId);
        Assert.Equal(FederatedTaskState.Assigned, task.State);

        using var again = new FederatedClientBuilder(federation.Server.Address).WithEnrollmentCode("one-time-code-1").Build();
        var spent = await Assert.ThrowsAsync<RpcException>(() => again.GetTaskAsync());
        Assert.Equal(StatusCode.Unauthenticated, spent.StatusCode);
    }
}
