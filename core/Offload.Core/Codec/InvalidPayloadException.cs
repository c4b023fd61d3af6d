namespace Offload.Core.Codec;

/// <summary>
/// The bytes handed to a decoder are not a valid update payload for the expected layout: truncated,
/// corrupted, written by an unknown format version, or built to attack the decoder. It is the only
/// exception a decoder throws for bad bytes, so callers can reject an upload with one catch.
/// </summary>
public sealed class InvalidPayloadException : FormatException
{
    /// <summary>Creates the exception with a message that says what was wrong.</summary>
    public InvalidPayloadException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the check that failed.</summary>
    public InvalidPayloadException(string message, Exception innerException) : base(message, innerException) { }
}
