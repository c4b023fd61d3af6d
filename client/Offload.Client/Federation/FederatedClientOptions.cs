using Offload.Core.Codec;

namespace Offload.Client.Federation;

/// <summary>Settings of a <see cref="FederatedClient"/>, immutable; <see cref="Validate"/> names the first bad one.</summary>
public sealed record FederatedClientOptions
{
    /// <summary>The gateway, e.g. <c>https://fl.example.org</c> or <c>http://127.0.0.1:5000</c> (cleartext HTTP/2).</summary>
    public Uri? Server { get; init; }

    /// <summary>The bearer token; or leave it null and give an <see cref="EnrollmentCode"/>.</summary>
    public string? Token { get; init; }

    /// <summary>A one-time code exchanged for a token on first use when <see cref="Token"/> is null.</summary>
    public string? EnrollmentCode { get; init; }

    /// <summary>A name for the gateway's logs.</summary>
    public string DeviceName { get; init; } = "offload-client";

    /// <summary>FedZip settings used when the gateway asks for FedZip (error feedback on by default).</summary>
    public FedZipOptions FedZip { get; init; } = FedZipOptions.Default;

    /// <summary>Payload bytes per upload message.</summary>
    public int ChunkBytes { get; init; } = 256 * 1024;

    /// <summary>Tries per call before a transient failure is given up on.</summary>
    public int MaxAttempts { get; init; } = 8;

    /// <summary>Backoff before the second try; it doubles per try up to <see cref="MaxBackoff"/>, with jitter.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest backoff between tries.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long <see cref="FederatedClient.ParticipateAsync"/> keeps asking a gateway it cannot reach
    /// (a restart, a rollout, a network outage) after a call's own tries are used up, before it gives
    /// up; the same task's upload is sent again, so nothing is lost or counted twice.
    /// </summary>
    public TimeSpan MaxOutage { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Deadline of one call (one try); an upload of a large update on a slow link needs more.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The HTTP handler under the gRPC channel (tests, proxies, custom TLS); the client disposes it. Null builds a SocketsHttpHandler.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentException">The server is missing or not http(s), or neither a token nor an enrollment code is given.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size, count or duration is out of range.</exception>
    public FederatedClientOptions Validate()
    {
        if (Server is null || !Server.IsAbsoluteUri || (Server.Scheme != Uri.UriSchemeHttp && Server.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException("The server must be an absolute http:// or https:// address.", nameof(Server));
        if (string.IsNullOrEmpty(Token) && string.IsNullOrEmpty(EnrollmentCode))
            throw new ArgumentException("A token or an enrollment code is required.", nameof(Token));
        if (ChunkBytes < 1024 || ChunkBytes > 1024 * 1024)
            throw new ArgumentOutOfRangeException(nameof(ChunkBytes), ChunkBytes, "Chunks must be between 1 KiB and 1 MiB.");
        if (MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "At least one attempt is needed.");
        if (InitialBackoff < TimeSpan.Zero || MaxBackoff < InitialBackoff)
            throw new ArgumentOutOfRangeException(nameof(MaxBackoff), MaxBackoff, "Backoffs must be non-negative with the maximum at least the initial one.");
        ArgumentNullException.ThrowIfNull(FedZip);
        if (CallTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(CallTimeout), CallTimeout, "The call timeout must be positive.");
        if (MaxOutage < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(MaxOutage), MaxOutage, "The longest outage ridden out must not be negative.");
        return this;
    }
}
