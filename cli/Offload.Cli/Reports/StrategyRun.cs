using System.Text.Json.Nodes;

namespace Offload.Cli.Reports;

/// <summary>One run of a strategy study: which strategy, on which split, under which attack, and how it did.</summary>
/// <param name="Name">The run's folder name.</param>
/// <param name="Strategy">The strategy's registry name.</param>
/// <param name="Alpha">The Dirichlet concentration of the split.</param>
/// <param name="Attack">The attack ("none", "scale:-10", "noise:100").</param>
/// <param name="Accuracy">Test accuracy after each round.</param>
/// <param name="WallSeconds">Wall time of the run.</param>
public sealed record StrategyRun(string Name, string Strategy, double Alpha, string Attack, IReadOnlyList<double> Accuracy, double WallSeconds)
{
    /// <summary>Accuracy after the last round.</summary>
    public double FinalAccuracy => Accuracy.Count == 0 ? double.NaN : Accuracy[^1];

    /// <summary>Best accuracy of any round.</summary>
    public double BestAccuracy => Accuracy.Count == 0 ? double.NaN : Accuracy.Max();

    /// <summary>The run as a row of a study's summary.json, with the first round that reaches <paramref name="target"/>.</summary>
    public JsonObject ToJson(double target) => new()
    {
        ["name"] = Name,
        ["strategy"] = Strategy,
        ["alpha"] = Alpha,
        ["attack"] = Attack,
        ["final_accuracy"] = FinalAccuracy,
        ["best_accuracy"] = BestAccuracy,
        ["first_round_reaching_target"] = FirstRoundReaching(target),
        ["wall_seconds"] = WallSeconds,
        ["accuracy_per_round"] = new JsonArray(Accuracy.Select(a => (JsonNode)a).ToArray()),
    };

    /// <summary>The first round (1-based) whose accuracy reaches <paramref name="target"/>, or null if none does.</summary>
    public int? FirstRoundReaching(double target)
    {
        for (int i = 0; i < Accuracy.Count; i++)
            if (Accuracy[i] >= target) return i + 1;
        return null;
    }
}
