using Microsoft.Extensions.Hosting;

namespace Offload.Gateway.Hosting;

/// <summary>
/// The lifetime of a web host embedded in a command that owns the process's signals. The default
/// console lifetime catches SIGTERM and SIGINT and only stops the web host, so the command never hears
/// of them (an <c>offload serve</c> kept serving after SIGTERM until Kubernetes killed it); with this
/// one the signals reach the command's cancellation token, and the command stops the host as it drains.
/// </summary>
/// <remarks>Public so that the Dapr functions' host, which embeds its web host the same way, uses it too.</remarks>
public sealed class EmbeddedHostLifetime : IHostLifetime
{
    /// <summary>Starts at once: there is no console to wait for.</summary>
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Nothing to undo: no signal handler was registered.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
