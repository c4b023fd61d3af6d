using System.CommandLine;

namespace Offload.Cli.Options;

/// <summary>
/// <c>--hidden N</c>, shared by <c>serve</c> and <c>client</c>: the width of the default model's dense
/// layer fc1, which sets the model's size (22,000 gives about 11.5M parameters, 46 MB). The gateway
/// and every device must pass the same width, as they pass the same seed.
/// </summary>
public static class HiddenWidthOption
{
    /// <summary>The default width: the small CNN that trains a round in seconds.</summary>
    public const int Default = 64;

    /// <summary>The widest accepted: about 51M parameters (205 MB), beyond any model a test or benchmark here sends.</summary>
    public const int Max = 100_000;

    /// <summary>What a value out of range is told, before "(got N).".</summary>
    public static string Requirement { get; } = $"--hidden must be 1..{Max} (the width of the dense layer fc1)";

    /// <summary>A new <c>--hidden</c> option (System.CommandLine options belong to one command each).</summary>
    public static Option<int> Create(string who) => new("--hidden")
    {
        Description = $"Width of the model's dense layer fc1 (1..{Max}); sets the model's size: 64 is about 46k parameters, 22000 about 11.5M (46 MB). {who}",
        DefaultValueFactory = _ => Default,
    };

    /// <summary>Whether <paramref name="value"/> is a width <c>--hidden</c> accepts.</summary>
    public static bool IsValid(int value) => value is >= 1 and <= Max;

    /// <summary>Returns <paramref name="value"/> when valid.</summary>
    /// <exception cref="InvalidOptionException">It is out of 1..<see cref="Max"/>; the message names the option.</exception>
    public static int Validate(int value) =>
        IsValid(value) ? value : throw new InvalidOptionException($"{Requirement} (got {value}).");
}
