using System.Runtime.InteropServices;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>Sends POSIX signals to the processes a test started, as Kubernetes (SIGTERM) or a terminal (SIGINT) would.</summary>
internal static partial class Signals
{
    public const int Interrupt = 2;
    public const int Terminate = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint SetDisposition(int signal, nint handler);

    /// <summary>
    /// Sends <paramref name="signal"/> to <paramref name="pid"/>. A test run started in the background
    /// (`./test.sh &amp;`, nohup) ignores SIGINT and its children inherit that, so a child would never see
    /// the signal; the test process gives SIGINT its default disposition first, which children then inherit.
    /// </summary>
    public static void Send(int pid, int signal)
    {
        if (Kill(pid, signal) != 0) throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}.");
    }

    /// <summary>Lets processes started after this call receive SIGINT even when this test run inherited it ignored.</summary>
    public static void DeliverInterruptsToChildren()
    {
        if (InterruptIgnored()) SetDisposition(Interrupt, 0); // SIG_DFL
    }

    private static bool InterruptIgnored()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("SigIgn:", StringComparison.Ordinal))
                return (Convert.ToUInt64(line[7..].Trim(), 16) & (1UL << (Interrupt - 1))) != 0;
        return false;
    }
}
