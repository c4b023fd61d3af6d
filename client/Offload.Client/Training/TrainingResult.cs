namespace Offload.Client.Training;

/// <summary>What a round of local training produced besides the update itself.</summary>
/// <param name="SampleCount">Samples the update was computed from (its FedAvg weight).</param>
/// <param name="Steps">SGD steps taken.</param>
/// <param name="MeanLoss">Mean training loss over the steps of the last epoch.</param>
public sealed record TrainingResult(int SampleCount, int Steps, double MeanLoss);
