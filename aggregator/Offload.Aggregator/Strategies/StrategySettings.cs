using System.Globalization;
using System.Text;

namespace Offload.Aggregator.Strategies;

/// <summary>The checks and the name format the strategies share, so a name parses back (<see cref="StrategyCatalog"/>) to the same strategy.</summary>
internal static class StrategySettings
{
    public static void RequirePositive(double value, string key)
    {
        if (!(value > 0) || !double.IsFinite(value))
            throw new ArgumentOutOfRangeException(key, value, $"{key} must be positive and finite.");
    }

    public static void RequireFraction(double value, string key)
    {
        if (!(value >= 0 && value < 1))
            throw new ArgumentOutOfRangeException(key, value, $"{key} must be in [0, 1).");
    }

    /// <summary><c>name:key=value,...</c> with values in round-trip invariant form.</summary>
    public static string Format(string name, params (string Key, double Value)[] settings)
    {
        var text = new StringBuilder(name);
        for (int i = 0; i < settings.Length; i++)
        {
            text.Append(i == 0 ? ':' : ',').Append(settings[i].Key).Append('=');
            text.Append(settings[i].Value.ToString("R", CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }
}
