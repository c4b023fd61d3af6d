using System.Globalization;
using Offload.Aggregator.Events;
using Offload.Functions.Aggregation;

namespace Offload.Cli.Serving;

/// <summary>Prints one line per model the functions publish (<c>offload serve --dapr</c>).</summary>
public sealed class ConsoleModelReport(TextWriter output) : IModelPublishedObserver
{
    /// <inheritdoc/>
    public ValueTask OnModelPublishedAsync(ModelPublished published, ReadOnlyMemory<float> weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(published);
        lock (output)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {published.Round}: model {published.Version} from {published.Updates} updates ({weights.Length:N0} parameters) stored at {published.Reference}"));
            output.Flush();
        }
        return ValueTask.CompletedTask;
    }
}
