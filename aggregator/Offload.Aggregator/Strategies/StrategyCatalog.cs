using System.Globalization;
using System.Text;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// Every strategy by name: <c>NAME[:key=value,...]</c>, as <c>--strategy</c> takes it and as
/// <see cref="AggregationStrategy.Name"/> writes it (a name parses back to an equal strategy, which is
/// how the Dapr functions rebuild the gateway's strategy from a round's ticket). Any sum-decomposable
/// strategy also takes <c>clip=C</c>, which wraps it in <see cref="NormClipping"/>.
/// </summary>
public static class StrategyCatalog
{
    private sealed record Entry(string Name, string Summary, (string Key, double Default, string Meaning)[] Keys, Func<Func<string, double>, AggregationStrategy> Create);

    private static readonly Entry[] Entries =
    [
        new("fedavg", "FedAvg (McMahan et al. 2017): sample-weighted mean", [("eta", 1.0, "server learning rate")],
            v => new FedAvg(v("eta"))),
        new("fedavgm", "FedAvg with server momentum (Hsu et al. 2019)", [("eta", 1.0, "server learning rate"), ("beta", 0.9, "momentum")],
            v => new FedAvgM(v("eta"), v("beta"))),
        new("fedprox", "FedProx (Li et al. 2020): proximal term on the clients", [("mu", 0.01, "proximal weight"), ("eta", 1.0, "server learning rate")],
            v => new FedProx(v("mu"), v("eta"))),
        new("fedadagrad", "FedAdagrad (Reddi et al. 2021)", [("eta", 0.1, "server learning rate"), ("beta1", 0.9, "first moment decay"), ("tau", 1e-3, "adaptivity")],
            v => new FedAdagrad(v("eta"), v("beta1"), v("tau"))),
        new("fedadam", "FedAdam (Reddi et al. 2021)", [("eta", 0.03, "server learning rate"), ("beta1", 0.9, "first moment decay"), ("beta2", 0.99, "second moment decay"), ("tau", 1e-3, "adaptivity"), ("bias", 0, "1: Adam's bias correction")],
            v => new FedAdam(v("eta"), v("beta1"), v("beta2"), v("tau"), Flag(v("bias"), "bias"))),
        new("fedyogi", "FedYogi (Reddi et al. 2021)", [("eta", 0.03, "server learning rate"), ("beta1", 0.9, "first moment decay"), ("beta2", 0.99, "second moment decay"), ("tau", 1e-3, "adaptivity"), ("bias", 0, "1: Adam's bias correction")],
            v => new FedYogi(v("eta"), v("beta1"), v("beta2"), v("tau"), Flag(v("bias"), "bias"))),
        new("fedbuff", "FedBuff (Nguyen et al. 2022): a server step every k arrivals (asynchronous)", [("k", 10, "arrivals per step"), ("eta", 1.0, "server learning rate"), ("poly", 0, "staleness weight (1+tau)^-poly, 0 = none"), ("hinge", 0, "staleness weight 1/(hinge (tau-b)+1), 0 = none"), ("b", 4, "the hinge's threshold")],
            v => new FedBuff(Whole(v("k"), "k"), v("eta"), v("poly"), v("hinge"), Whole(v("b"), "b"))),
        new("median", "coordinate-wise median (Yin et al. 2018), robust", [],
            _ => new CoordinateMedian()),
        new("trimmedmean", "coordinate-wise trimmed mean (Yin et al. 2018), robust", [("beta", 0.1, "fraction trimmed from each end")],
            v => new TrimmedMean(v("beta"))),
        new("krum", "Krum (Blanchard et al. 2017), robust", [("f", 1, "Byzantine inputs tolerated")],
            v => new Krum(Whole(v("f"), "f"))),
        new("multikrum", "Multi-Krum (Blanchard et al. 2017), robust", [("f", 1, "Byzantine inputs tolerated"), ("m", 0, "updates averaged, 0 = n - f")],
            v => new Krum(Whole(v("f"), "f"), Whole(v("m"), "m"))),
    ];

    /// <summary>The registered names.</summary>
    public static IReadOnlyList<string> Names { get; } = Array.ConvertAll(Entries, e => e.Name);

    /// <summary>Parses <paramref name="specification"/> (<c>NAME[:key=value,...]</c>).</summary>
    /// <exception cref="FormatException">An unknown name, an unknown or repeated key, or a bad value; the message lists what is valid.</exception>
    public static AggregationStrategy Parse(string specification)
    {
        ArgumentNullException.ThrowIfNull(specification);
        string text = specification.Trim();
        int colon = text.IndexOf(':');
        string name = (colon < 0 ? text : text[..colon]).Trim().ToLowerInvariant();
        var entry = Array.Find(Entries, e => e.Name == name)
            ?? throw new FormatException($"Unknown strategy '{name}'. Valid strategies: {string.Join(", ", Names)}.\n{Describe()}");
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (key, fallback, _) in entry.Keys) values[key] = fallback;
        double? clip = null;
        bool clippable = Clippable(entry);
        var given = new HashSet<string>(StringComparer.Ordinal);
        if (colon >= 0)
        {
            foreach (var part in text[(colon + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = part.IndexOf('=');
                if (eq <= 0) throw new FormatException($"Strategy '{name}': '{part}' is not key=value.");
                string key = part[..eq].Trim().ToLowerInvariant();
                string raw = part[(eq + 1)..].Trim();
                if (!given.Add(key)) throw new FormatException($"Strategy '{name}': key '{key}' is given twice.");
                bool isClip = key == "clip" && clippable;
                if (!isClip && !values.ContainsKey(key))
                    throw new FormatException($"Strategy '{name}' has no key '{key}'. Valid keys: {KeysOf(entry, clippable)}.");
                if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                    throw new FormatException($"Strategy '{name}': {key}={raw} is not a finite number.");
                if (isClip) clip = value;
                else values[key] = value;
            }
        }
        try
        {
            var strategy = entry.Create(k => values[k]);
            return clip is { } c ? new NormClipping(strategy, c) : strategy;
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"Strategy '{name}': {e.Message}", e);
        }
    }

    /// <summary>One line per strategy with its keys and defaults (for help and error messages).</summary>
    public static string Describe()
    {
        var text = new StringBuilder();
        foreach (var entry in Entries)
        {
            bool clippable = Clippable(entry);
            text.Append("  ").Append(entry.Name).Append(": ").Append(entry.Summary);
            string keys = KeysOf(entry, clippable);
            if (keys.Length > 0) text.Append(" [").Append(keys).Append(']');
            text.Append('\n');
        }
        return text.ToString().TrimEnd();
    }

    /// <summary>Whether the entry's strategy is sum-decomposable (so takes <c>clip=C</c>): asked of the strategy itself, built with its defaults.</summary>
    private static bool Clippable(Entry entry) =>
        entry.Create(k => Array.Find(entry.Keys, x => x.Key == k).Default).Kind == AggregationKind.SumDecomposable;

    private static string KeysOf(Entry entry, bool clippable)
    {
        var keys = new List<string>();
        foreach (var (key, fallback, meaning) in entry.Keys)
            keys.Add($"{key}={fallback.ToString(CultureInfo.InvariantCulture)} ({meaning})");
        if (clippable) keys.Add("clip=C (norm clipping, off by default)");
        return keys.Count == 0 ? "none" : string.Join(", ", keys);
    }

    private static bool Flag(double value, string key) => value switch
    {
        0 => false,
        1 => true,
        _ => throw new ArgumentOutOfRangeException(key, value, $"{key} must be 0 or 1."),
    };

    private static int Whole(double value, string key)
    {
        if (value != Math.Floor(value) || value < int.MinValue || value > int.MaxValue)
            throw new ArgumentOutOfRangeException(key, value, $"{key} must be a whole number.");
        return (int)value;
    }
}
