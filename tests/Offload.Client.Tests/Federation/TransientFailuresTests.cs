using Grpc.Core;
using Offload.Client.Federation;

namespace Offload.Client.Tests.Federation;

public class TransientFailuresTests
{
    private static RpcException Failure(StatusCode code, string? trailer = null, string value = "250")
    {
        var trailers = new Metadata();
        if (trailer is not null) trailers.Add(trailer, value);
        return new RpcException(new Status(code, "x"), trailers);
    }

    [Theory]
    [InlineData(StatusCode.Unavailable, true)]
    [InlineData(StatusCode.DeadlineExceeded, true)]
    [InlineData(StatusCode.Aborted, true)]
    [InlineData(StatusCode.Internal, true)]
    [InlineData(StatusCode.ResourceExhausted, false)] // A size refusal: trying again cannot help.
    [InlineData(StatusCode.Unauthenticated, false)]
    [InlineData(StatusCode.PermissionDenied, false)]
    [InlineData(StatusCode.InvalidArgument, false)]
    [InlineData(StatusCode.FailedPrecondition, false)]
    [InlineData(StatusCode.Cancelled, false)]
    public void Which_codes_are_retried(StatusCode code, bool transient) =>
        Assert.Equal(transient, TransientFailures.IsTransient(Failure(code), upload: true));

    [Fact]
    public void A_busy_gateway_and_an_upload_that_ended_early_are_retried()
    {
        Assert.True(TransientFailures.IsTransient(Failure(StatusCode.ResourceExhausted, TransientFailures.RetryAfterTrailer), upload: false));
        Assert.True(TransientFailures.IsTransient(Failure(StatusCode.FailedPrecondition, TransientFailures.UploadOffsetTrailer), upload: true));
        Assert.False(TransientFailures.IsTransient(Failure(StatusCode.FailedPrecondition, TransientFailures.UploadOffsetTrailer), upload: false));
    }

    [Fact]
    public void Backoff_doubles_with_jitter_within_bounds_and_honours_retry_after()
    {
        var random = new Random(5);
        var initial = TimeSpan.FromMilliseconds(100);
        var max = TimeSpan.FromSeconds(2);
        for (int attempt = 1; attempt <= 10; attempt++)
        {
            double ceiling = Math.Min(max.TotalMilliseconds, 100 * Math.Pow(2, attempt - 1));
            for (int k = 0; k < 50; k++)
            {
                double wait = TransientFailures.Backoff(attempt, initial, max, null, random).TotalMilliseconds;
                Assert.InRange(wait, ceiling / 2, ceiling);
            }
        }
        var busy = Failure(StatusCode.ResourceExhausted, TransientFailures.RetryAfterTrailer, "1500");
        Assert.True(TransientFailures.Backoff(1, initial, max, busy, random).TotalMilliseconds >= 1500);
    }

    [Fact]
    public void Options_name_what_is_missing_or_out_of_range()
    {
        var ok = new FederatedClientOptions { Server = new Uri("http://127.0.0.1:5000"), Token = "t" };
        ok.Validate();
        Assert.Throws<ArgumentException>(() => (ok with { Server = new Uri("ftp://x") }).Validate());
        Assert.Throws<ArgumentException>(() => (ok with { Token = null }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (ok with { ChunkBytes = 10 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (ok with { MaxAttempts = 0 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (ok with { MaxBackoff = TimeSpan.Zero }).Validate());
    }
}
