namespace Offload.Core.Data;

/// <summary>
/// A data set could not be found where it was looked for. The message lists where Offload looked
/// and how to install the data, because the usual fix is an install or a path, not a code change.
/// </summary>
public sealed class DatasetNotFoundException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> should say where it looked and how to get the data.</summary>
    public DatasetNotFoundException(string message) : base(message) { }

    /// <summary>Creates the exception with the places searched and, when one file alone was missing, that file.</summary>
    public DatasetNotFoundException(string message, IReadOnlyList<string> searched, string? missingFile)
        : base(message)
    {
        Searched = searched;
        MissingFile = missingFile;
    }

    /// <summary>The directories (or sources) that were searched, in order.</summary>
    public IReadOnlyList<string> Searched { get; } = [];

    /// <summary>The path of the one file that was missing from an otherwise chosen directory, if that was the cause.</summary>
    public string? MissingFile { get; }
}
