namespace Offload.Aggregator.Storage;

/// <summary>
/// The claim check for a stored update payload: events carry this, never the bytes.
/// A non-empty key of at most <see cref="MaxLength"/> printable ASCII characters, so every store
/// (memory, a state store, a file name) can use it as it is.
/// </summary>
public readonly record struct UpdateReference
{
    /// <summary>Longest accepted key.</summary>
    public const int MaxLength = 256;

    /// <summary>Creates a reference after validating the key (also how JSON, e.g. a Dapr event, is read back).</summary>
    /// <exception cref="ArgumentException">The key is empty, too long, or holds a character outside printable ASCII.</exception>
    [System.Text.Json.Serialization.JsonConstructor]
    public UpdateReference(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key.Length > MaxLength) throw new ArgumentException($"An update reference holds at most {MaxLength} characters (got {key.Length}).", nameof(key));
        foreach (char c in key)
            if (c <= ' ' || c > '~') throw new ArgumentException($"An update reference holds printable ASCII without spaces; '{key}' does not.", nameof(key));
        Key = key;
    }

    /// <summary>The store's key.</summary>
    public string Key { get; }

    /// <summary>The reference for one client's update to one task: <c>update/{client}/{task}</c>.</summary>
    /// <exception cref="ArgumentException">A part is empty or holds characters a key cannot.</exception>
    public static UpdateReference ForTask(string clientId, string taskId) => new($"update/{clientId}/{taskId}");

    public override string ToString() => Key ?? "";
}
