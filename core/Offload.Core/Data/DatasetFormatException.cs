namespace Offload.Core.Data;

/// <summary>
/// A data file exists but its bytes are not what its format promises (wrong magic, truncated,
/// absurd sizes, trailing bytes, corrupt gzip). The message names the file and the fault, so a
/// user can tell a bad download from a wrong path.
/// </summary>
public sealed class DatasetFormatException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> should name the file and what was wrong.</summary>
    public DatasetFormatException(string message) : base(message) { }

    /// <summary>Creates the exception around the lower-level failure that revealed the fault.</summary>
    public DatasetFormatException(string message, Exception innerException) : base(message, innerException) { }
}
