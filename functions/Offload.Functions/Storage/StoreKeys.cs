using System.Globalization;
using Offload.Aggregator.Storage;

namespace Offload.Functions.Storage;

/// <summary>
/// The key namespaces of the shared store, built and recognised in one place: client updates
/// (<c>update/{client}/{task}</c>, <see cref="UpdateReference.ForTask"/>), partial sums
/// (<c>partial/r{round}/l{level}/a{index}/{attempt}</c>) and global models (<c>model/v0</c>, then
/// <c>model/v{k}/{attempt}</c>). Every reference an event or an actor call names is checked against
/// the namespace it claims before anything is read or deleted under it: a malformed event once made
/// a leaf delete <c>model/v0</c>, the round's global model.
/// </summary>
public static class StoreKeys
{
    /// <summary>The prefix of every client update.</summary>
    public const string UpdatePrefix = "update/";

    /// <summary>The prefix of every partial sum.</summary>
    public const string PartialPrefix = "partial/";

    /// <summary>The prefix of every global model (and the server state beside it).</summary>
    public const string ModelPrefix = "model/";

    /// <summary>Longest attempt suffix accepted (the functions write 12 hex digits).</summary>
    public const int MaxAttemptLength = 64;

    /// <summary>Where one attempt at aggregator (<paramref name="level"/>, <paramref name="index"/>) of <paramref name="round"/> stores its partial sum.</summary>
    public static UpdateReference Partial(long round, int level, int index, string attempt) => new($"{PartialPrefix}r{N(round)}/l{N(level)}/a{N(index)}/{attempt}");

    /// <summary>Where the initial global model (version 0) is stored.</summary>
    public static UpdateReference InitialModel(long version) => new($"{ModelPrefix}v{N(version)}");

    /// <summary>Where one attempt at publishing global model <paramref name="version"/> stores it.</summary>
    public static UpdateReference Model(long version, string attempt) => new($"{ModelPrefix}v{N(version)}/{attempt}");

    /// <summary>
    /// The task id under which the corrected form of the update to <paramref name="taskId"/> is stored and
    /// announced (<c>update/{client}/{task}~corrected</c>): a key of its own, so the device's original
    /// and its correction are never confused, and a repeated correction lands on the same key.
    /// </summary>
    public static string CorrectedTask(string taskId) => taskId + CorrectedSuffix;

    /// <summary>What <see cref="CorrectedTask"/> appends.</summary>
    public const string CorrectedSuffix = "~corrected";

    /// <summary>
    /// Null when <paramref name="key"/> is exactly the update of <paramref name="clientId"/> for
    /// <paramref name="taskId"/> (<see cref="UpdateReference.ForTask"/>), else why not, naming <paramref name="field"/>.
    /// </summary>
    public static string? UpdateProblem(string? key, string? clientId, string? taskId, string field)
    {
        if (string.IsNullOrEmpty(key)) return $"{field} is missing.";
        if (!key.StartsWith(UpdatePrefix, StringComparison.Ordinal))
            return $"{field} '{key}' is not a client update (it must start with '{UpdatePrefix}').";
        string expected = $"{UpdatePrefix}{clientId}/{taskId}";
        return key == expected ? null : $"{field} '{key}' is not the update of client '{clientId}' for task '{taskId}' (expected '{expected}').";
    }

    /// <summary>Null when <paramref name="key"/> has the shape of a client update, <c>update/{client}/{task}</c>, else why not, naming <paramref name="field"/>.</summary>
    public static string? UpdateShapeProblem(string? key, string field)
    {
        if (string.IsNullOrEmpty(key)) return $"{field} is missing.";
        var parts = key.Split('/');
        if (parts.Length != 3 || parts[0] + "/" != UpdatePrefix || parts[1].Length == 0 || parts[2].Length == 0)
            return $"{field} '{key}' is not a client update ('{UpdatePrefix}{{client}}/{{task}}').";
        return null;
    }

    /// <summary>
    /// Null when <paramref name="key"/> is an attempt's partial sum of aggregator (<paramref name="level"/>,
    /// <paramref name="index"/>) of <paramref name="round"/>, else why not, naming <paramref name="field"/>.
    /// </summary>
    public static string? PartialProblem(string? key, long round, int level, int index, string field)
    {
        if (string.IsNullOrEmpty(key)) return $"{field} is missing.";
        string prefix = $"{PartialPrefix}r{N(round)}/l{N(level)}/a{N(index)}/";
        if (!key.StartsWith(prefix, StringComparison.Ordinal))
            return $"{field} '{key}' is not a partial sum of aggregator l{level}/a{index} of round {round} (it must start with '{prefix}').";
        return AttemptProblem(key[prefix.Length..], key, field);
    }

    /// <summary>Null when <paramref name="key"/> is an attempt's stored model <paramref name="version"/> (<c>model/v{version}/{attempt}</c>), else why not, naming <paramref name="field"/>.</summary>
    public static string? PublishedModelProblem(string? key, long version, string field)
    {
        if (string.IsNullOrEmpty(key)) return $"{field} is missing.";
        string prefix = $"{ModelPrefix}v{N(version)}/";
        if (!key.StartsWith(prefix, StringComparison.Ordinal))
            return $"{field} '{key}' is not model version {version} (it must start with '{prefix}').";
        return AttemptProblem(key[prefix.Length..], key, field);
    }

    private static string? AttemptProblem(string attempt, string key, string field)
    {
        if (attempt.Length is 0 or > MaxAttemptLength) return $"{field} '{key}' must end in an attempt of 1 to {MaxAttemptLength} characters.";
        foreach (char c in attempt)
            if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_')
                return $"{field} '{key}' must end in an attempt of letters, digits, '-' or '_'.";
        return null;
    }

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);
}
