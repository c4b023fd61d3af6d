using Offload.Aggregator.Events;

namespace Offload.Functions.Correction;

/// <summary>Told each <see cref="CorrectionReported"/> the corrector app publishes (the asynchronous gateway's coordinator).</summary>
public interface ICorrectionObserver
{
    /// <summary>Counts one report; a report matching no stale update it sent is ignored.</summary>
    void OnCorrectionReported(CorrectionReported report);
}
