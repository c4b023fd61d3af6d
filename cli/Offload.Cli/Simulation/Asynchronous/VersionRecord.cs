namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>One published model version of an asynchronous run.</summary>
/// <param name="Version">The version number (1 is the first aggregate).</param>
/// <param name="Accuracy">Test accuracy, or NaN when this version was not evaluated.</param>
/// <param name="Loss">Mean test cross-entropy, or NaN when not evaluated.</param>
/// <param name="VirtualTime">Virtual time of the arrival that completed the buffer.</param>
/// <param name="Folded">Updates folded into this version.</param>
/// <param name="Stale">Of those, updates with staleness above 0.</param>
/// <param name="MeanStaleness">Mean staleness of the folded updates.</param>
/// <param name="MaxStaleness">Largest staleness folded.</param>
/// <param name="Corrected">Stale updates replaced by a corrected one.</param>
/// <param name="Weighted">Stale updates kept with a reduced weight.</param>
/// <param name="FellBack">Stale updates whose correction failed the gate.</param>
/// <param name="Dropped">Updates dropped because their base version left the window.</param>
/// <param name="Seconds">Wall time to produce the version (training, correction, folding, evaluation).</param>
public sealed record VersionRecord(int Version, double Accuracy, double Loss, double VirtualTime, int Folded, int Stale,
    double MeanStaleness, long MaxStaleness, int Corrected, int Weighted, int FellBack, int Dropped, double Seconds);
