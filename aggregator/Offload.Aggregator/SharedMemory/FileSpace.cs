using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Offload.Aggregator.SharedMemory;

/// <summary>
/// Reserves a file's blocks up front (<c>posix_fallocate</c>). On tmpfs a page that cannot be
/// backed is a SIGBUS when it is first touched, killing whichever process wrote there; reserving
/// when the store is created turns a full <c>/dev/shm</c> into one clear error at start instead.
/// </summary>
internal static partial class FileSpace
{
    private const int NoSpace = 28; // ENOSPC

    /// <summary>Makes <paramref name="length"/> bytes of the file backed by storage.</summary>
    /// <exception cref="IOException">The file system has no room (the message says how much was asked) or refused.</exception>
    public static void Reserve(SafeFileHandle file, string path, long length)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            int error = posix_fallocate((int)file.DangerousGetHandle(), 0, length);
            if (error == NoSpace)
                throw new IOException($"There is no room for a {length}-byte shared-memory store at '{path}'; free space there (df {System.IO.Path.GetDirectoryName(path)}) or ask for a smaller store.");
            if (error != 0) throw new IOException($"Could not reserve {length} bytes for the shared-memory store at '{path}' (posix_fallocate error {error}).");
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    [LibraryImport("libc")]
    private static partial int posix_fallocate(int fd, long offset, long length);
}
