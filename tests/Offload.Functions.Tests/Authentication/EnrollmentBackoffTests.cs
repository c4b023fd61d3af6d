using Grpc.Core;
using Offload.Aggregator.Rounds;
using Offload.Core.Protos;
using Offload.Gateway.Service;

namespace Offload.Functions.Tests.Authentication;

/// <summary>Guessing enrollment codes is slowed per peer address; devices that enroll correctly are never delayed.</summary>
public class EnrollmentBackoffTests
{
    [Fact]
    public async Task After_a_failed_enrollment_the_peer_backs_off_exponentially_while_successes_pass()
    {
        var clock = new ManualTimeProvider();
        var backoff = TimeSpan.FromSeconds(1);
        await using var federation = await TestFederation.StartAsync(TestFederation.FlatLayout(16), new float[16],
            new RoundOptions { MinClients = 1, Rounds = 1 }, clients: 0, new GatewayOptions { EnrollmentBackoff = backoff }, time: clock);
        for (int i = 0; i < 6; i++) federation.Tokens.AddEnrollmentCode($"good-code-{i:D4}", $"enrolled-{i}");
        var raw = federation.Raw();
        Task<EnrollReply> Enroll(string code) => raw.EnrollAsync(new EnrollRequest { EnrollmentCode = code, DeviceName = "test" }).ResponseAsync;

        // Successes in a row are never slowed down.
        for (int i = 0; i < 3; i++) Assert.NotEmpty((await Enroll($"good-code-{i:D4}")).Token);

        var wrong = await Assert.ThrowsAsync<RpcException>(() => Enroll("guessed-code-1"));
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        // Backing off: even a valid code is not looked at until the wait is over.
        var held = await Assert.ThrowsAsync<RpcException>(() => Enroll("good-code-0003"));
        Assert.Equal(StatusCode.ResourceExhausted, held.StatusCode);
        Assert.Equal("1000", held.Trailers.GetValue(FederationGateway.RetryAfterTrailer));

        clock.Advance(backoff);
        Assert.NotEmpty((await Enroll("good-code-0003")).Token);

        // A second failure doubles the wait.
        await Assert.ThrowsAsync<RpcException>(() => Enroll("guessed-code-2"));
        var longer = await Assert.ThrowsAsync<RpcException>(() => Enroll("good-code-0004"));
        Assert.Equal(StatusCode.ResourceExhausted, longer.StatusCode);
        Assert.Equal("2000", longer.Trailers.GetValue(FederationGateway.RetryAfterTrailer));
        Assert.Equal(2, federation.Server.Metrics.ThrottledEnrollments);

        clock.Advance(2 * backoff);
        Assert.NotEmpty((await Enroll("good-code-0004")).Token);
        Assert.NotEmpty((await Enroll("good-code-0005")).Token);
    }
}
