using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Offload.Aggregator.SharedMemory;

/// <summary>
/// An exclusive <c>flock(2)</c> on the store's file: it excludes other processes (and other open
/// handles in this one), and the kernel drops it when its holder dies, so a <c>kill -9</c> inside a
/// critical section never leaves the store locked. Threads sharing one handle are not excluded by
/// it; the store takes its own monitor first.
/// </summary>
internal static partial class FileLock
{
    private const int LockExclusive = 2;
    private const int Unlock = 8;
    private const int Interrupted = 4; // EINTR

    /// <summary>Blocks until this handle holds the lock.</summary>
    /// <exception cref="IOException">The kernel refused the lock.</exception>
    public static void Enter(SafeFileHandle file) => Call(file, LockExclusive, "take");

    /// <summary>Releases the lock this handle holds.</summary>
    public static void Exit(SafeFileHandle file) => Call(file, Unlock, "release");

    private static void Call(SafeFileHandle file, int operation, string verb)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            int fd = (int)file.DangerousGetHandle();
            while (flock(fd, operation) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Interrupted) throw new IOException($"Could not {verb} the shared-memory store's file lock (flock errno {errno}).");
            }
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);
}
