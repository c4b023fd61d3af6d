using Microsoft.Extensions.Hosting;

namespace Offload.Gateway.Hosting;

/// <summary>
/// The lifetime of a web host embedded in a command that owns the process's signals. The default
/// console lifetime catches SIGTERM and SIGINT and only stops the web host, so the command never hears
/// of them (an <c>offload serve</c> kept serving after SIGTERM until Kubernetes killed it); with this
/// one the signals reach the command's cancellation token, and the command stops the host as it drains.
/// </summary>
internal sealed class EmbeddedHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
