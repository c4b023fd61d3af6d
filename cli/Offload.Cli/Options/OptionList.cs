using System.Numerics;
using System.Globalization;

namespace Offload.Cli.Options;

/// <summary>Comma-separated option values (<c>--topz 0.1,0.01</c>, <c>--updates 100,1000</c>), each validated.</summary>
public static class OptionList
{
    /// <summary>Parses <paramref name="text"/> as numbers that satisfy <paramref name="valid"/>.</summary>
    /// <exception cref="InvalidOptionException">The list is empty, or an entry is not a number or fails <paramref name="valid"/>; the message names <paramref name="option"/> and says what was expected.</exception>
    public static T[] Parse<T>(string text, string option, Func<T, bool> valid, string expectation) where T : INumber<T>
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new InvalidOptionException($"{option} needs at least one value.");
        var values = new T[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!T.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]!) || !valid(values[i]))
                throw new InvalidOptionException($"{option}: '{parts[i]}' is not {expectation}.");
        return values;
    }
}
