namespace Offload.Gateway.Service;

/// <summary>What the gateway does with an update whose L2 norm is above its bound.</summary>
public enum UpdateNormPolicy
{
    /// <summary>Refuse it with FAILED_PRECONDITION; the device asks for a new task.</summary>
    Refuse = 0,

    /// <summary>Scale it down to the bound and accept it (the stored payload is rewritten, its codec unchanged).</summary>
    Clip = 1,
}
