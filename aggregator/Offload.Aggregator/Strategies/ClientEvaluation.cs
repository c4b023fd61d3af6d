namespace Offload.Aggregator.Strategies;

/// <summary>One client's score of the round's model on its own data (federated evaluation).</summary>
/// <param name="Examples">Samples it evaluated, at least 1.</param>
/// <param name="Loss">Mean loss over them.</param>
/// <param name="Accuracy">Fraction it classified correctly.</param>
public sealed record ClientEvaluation(long Examples, double Loss, double Accuracy)
{
    /// <summary>Most examples one client may claim: beyond any device's data set, so a lie cannot dominate by size alone.</summary>
    public const long MaxExamples = 1L << 32;

    /// <summary>Null when the score is plausible, else which field is not (the gateway refuses the upload with it).</summary>
    public string? Problem()
    {
        if (Examples < 1 || Examples > MaxExamples) return $"evaluation.examples is {Examples}; it must be 1 to {MaxExamples}.";
        if (!(Loss >= 0) || !double.IsFinite(Loss)) return $"evaluation.loss is {Loss}; it must be finite and not negative.";
        if (!(Accuracy >= 0 && Accuracy <= 1)) return $"evaluation.accuracy is {Accuracy}; it must be in [0, 1].";
        return null;
    }
}
