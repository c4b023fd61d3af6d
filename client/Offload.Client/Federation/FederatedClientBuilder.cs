using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Offload.Client.Federation;

/// <summary>Builds a <see cref="FederatedClient"/>: <c>new FederatedClientBuilder(server).WithToken(t).Build()</c>.</summary>
public sealed class FederatedClientBuilder
{
    private FederatedClientOptions _options;
    private ILoggerFactory _loggerFactory = NullLoggerFactory.Instance;

    /// <summary>Starts a builder for the gateway at <paramref name="server"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="server"/> is null.</exception>
    public FederatedClientBuilder(Uri server)
    {
        ArgumentNullException.ThrowIfNull(server);
        _options = new FederatedClientOptions { Server = server };
    }

    /// <summary>Starts a builder from complete options.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public FederatedClientBuilder(FederatedClientOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
    }

    /// <summary>Authenticates with <paramref name="token"/>.</summary>
    public FederatedClientBuilder WithToken(string token)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        _options = _options with { Token = token };
        return this;
    }

    /// <summary>Enrolls with <paramref name="code"/> on first use (when no token is given).</summary>
    public FederatedClientBuilder WithEnrollmentCode(string code)
    {
        ArgumentException.ThrowIfNullOrEmpty(code);
        _options = _options with { EnrollmentCode = code };
        return this;
    }

    /// <summary>Changes any other option.</summary>
    public FederatedClientBuilder Configure(Func<FederatedClientOptions, FederatedClientOptions> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        _options = change(_options) ?? throw new InvalidOperationException("The option change returned null.");
        return this;
    }

    /// <summary>Logs to <paramref name="loggerFactory"/> (nothing is logged by default).</summary>
    public FederatedClientBuilder WithLoggerFactory(ILoggerFactory loggerFactory)
    {
        _loggerFactory = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory));
        return this;
    }

    /// <summary>Creates the client; it connects lazily, on its first call.</summary>
    /// <exception cref="ArgumentException">The options are incomplete or out of range (see <see cref="FederatedClientOptions.Validate"/>).</exception>
    public FederatedClient Build() => new GrpcFederatedClient(_options, _loggerFactory.CreateLogger<FederatedClient>());
}
