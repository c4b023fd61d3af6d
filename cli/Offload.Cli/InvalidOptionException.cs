namespace Offload.Cli;

/// <summary>A command-line setting is out of range or malformed; the CLI prints the message and exits with 2.</summary>
public sealed class InvalidOptionException(string message) : Exception(message);
