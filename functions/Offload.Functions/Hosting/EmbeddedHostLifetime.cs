using Microsoft.Extensions.Hosting;

namespace Offload.Functions.Hosting;

/// <summary>
/// The lifetime of the functions' web host inside <c>offload serve --dapr</c>, which owns the process's
/// signals. The default console lifetime catches SIGTERM and SIGINT and only stops the web host, so the
/// command's cancellation token never fired and the process never exited; with this one the signals
/// reach the command, which drains (<see cref="AggregatorFunctionsHost.DrainAsync"/>) and stops the host.
/// </summary>
internal sealed class EmbeddedHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
