namespace Offload.Client.Inversion;

/// <summary>How the fresh update is formed from what the recovered data gives on the current model.</summary>
public enum FreshUpdateForm
{
    /// <summary>
    /// The update the recovered data gives on the current model, as in Wang and Gao: fresh = c * U(w_t; D̂),
    /// with c the least-squares scale that best reproduces the stale update from the base model.
    /// </summary>
    Replace,

    /// <summary>
    /// The stale update moved by the change the recovered data sees between the two models:
    /// fresh = stale + c * (U(w_t; D̂) - U(w_{t-tau}; D̂)). Whatever the inversion failed to explain
    /// stays in the update instead of being lost (a control variate on the stale update).
    /// </summary>
    Residual,
}
