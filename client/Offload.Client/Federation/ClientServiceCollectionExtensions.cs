using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Offload.Client.Federation;

/// <summary>Registers a <see cref="FederatedClient"/> in a device app's services.</summary>
public static class ClientServiceCollectionExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="FederatedClient"/> built from <paramref name="options"/>, logging to the
    /// app's <see cref="ILoggerFactory"/> when one is registered.
    /// </summary>
    /// <exception cref="ArgumentException">The options are incomplete or out of range.</exception>
    public static IServiceCollection AddOffloadClient(this IServiceCollection services, FederatedClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(provider =>
        {
            var builder = new FederatedClientBuilder(options);
            if (provider.GetService<ILoggerFactory>() is { } loggers) builder.WithLoggerFactory(loggers);
            return builder.Build();
        });
        return services;
    }
}
