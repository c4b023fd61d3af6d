namespace Offload.Core.Data;

/// <summary>Where a loaded data set came from, so a run can report (and a caller can warn about) the source it used.</summary>
public enum DatasetOrigin
{
    /// <summary>A directory the caller named (for example the CLI's --data).</summary>
    Explicit,

    /// <summary>The directory named by the OFFLOAD_DATA environment variable.</summary>
    Environment,

    /// <summary>The system-wide install (Debian's dataset-fashion-mnist package).</summary>
    System,

    /// <summary>The small subset embedded in Offload.Core, used when nothing else was found.</summary>
    Bundled,
}
