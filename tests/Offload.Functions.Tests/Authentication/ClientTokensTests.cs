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

    [Theory]
    [InlineData("a/b")]
    [InlineData("has space")]
    [InlineData("tab\tid")]
    [InlineData("ünïcode")]
    [InlineData("a||b")]
    public void A_client_id_that_could_not_name_store_keys_is_refused_with_the_rule(string id)
    {
        var tokens = new ClientTokens();
        var e = Assert.Throws<ArgumentException>(() => tokens.Add(id, "long-enough-secret"));
        Assert.Contains("is not allowed", e.Message);
        Assert.Throws<ArgumentException>(() => tokens.AddEnrollmentCode("long-enough-code", id));
        Assert.Throws<ArgumentException>(() => tokens.Add(new string('a', ClientTokens.MaxClientIdLength + 1), "another-secret"));
        tokens.Add("device-0.eu_west@fleet:7", "long-enough-secret");
    }

    [Fact]
    public void A_bad_line_of_a_token_file_is_named_by_its_number()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, ["# devices", "good-device good-device-secret", "bad/device bad-device-secret"]);
            var e = Assert.Throws<ArgumentException>(() => new ClientTokens().AddFile(path));
            Assert.StartsWith($"{path}:3: The client id 'bad/device'", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
