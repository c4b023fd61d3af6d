using Microsoft.Extensions.Logging;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>Keeps the SDK's warnings, and tells <paramref name="seen"/> of each as it is logged.</summary>
internal sealed class WarningCapture(List<string> warnings, Action<string>? seen = null) : ILoggerProvider, ILogger
{
    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        string message = formatter(state, exception);
        lock (warnings) warnings.Add(message);
        seen?.Invoke(message);
    }

    public void Dispose()
    {
    }
}
