using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Offload.Aggregator.Staleness;

/// <summary>
/// CPU time consumed by the calling thread (Linux: clock_gettime(CLOCK_THREAD_CPUTIME_ID)). Work a
/// library farms out to its own threads (a libtorch intra-op pool above one thread) is not counted,
/// so callers that measure libtorch work run it with one intra-op thread. Elsewhere it falls back to
/// wall time, which <see cref="IsThreadCpuTime"/> reports.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    /// <summary>Whether <see cref="Now"/> measures thread CPU time rather than wall time.</summary>
    public static bool IsThreadCpuTime { get; } = OperatingSystem.IsLinux() && Probe();

    /// <summary>Seconds on the calling thread's CPU clock (or a wall clock, see <see cref="IsThreadCpuTime"/>).</summary>
    public static double Now()
    {
        if (IsThreadCpuTime && clock_gettime(ClockThreadCpuTimeId, out var t) == 0) return t.Seconds + t.Nanoseconds * 1e-9;
        return Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
    }

    private static bool Probe()
    {
        try
        {
            return clock_gettime(ClockThreadCpuTimeId, out _) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int clock_gettime(int clockId, out TimeSpec time);
}
