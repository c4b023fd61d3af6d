namespace Offload.Cli.Serving;

/// <summary>
/// What <c>offload serve</c> was asked to run, its options validated, before any file it names is
/// read: the command runs it, and <c>offload deploy check</c> compares it with the manifest around it.
/// </summary>
/// <param name="Role">Which app the process is.</param>
/// <param name="Options">Its validated options.</param>
public sealed record ServePlan(ServeRole Role, ServeOptions Options)
{
    /// <summary><c>--tokens</c> files (the gateway).</summary>
    public IReadOnlyList<string> TokenFiles { get; init; } = [];

    /// <summary><c>--token</c> values (the gateway).</summary>
    public IReadOnlyList<string> Tokens { get; init; } = [];

    /// <summary><c>--enrollment-code</c> values (the gateway).</summary>
    public IReadOnlyList<string> EnrollmentCodes { get; init; } = [];

    /// <summary><c>--config</c> files (the gateway).</summary>
    public string[] ConfigFiles { get; init; } = [];

    /// <summary><c>--data</c>: the evaluation data's folder, if any.</summary>
    public string? Data { get; init; }

    /// <summary><c>--out</c>: where the gateway writes rounds.csv and summary.json.</summary>
    public string Output { get; init; } = "runs/serve";

    /// <summary><c>--verbose</c>.</summary>
    public bool Verbose { get; init; }
}
