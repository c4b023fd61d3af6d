using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Offload.Aggregator.Journal;

/// <summary>
/// The accepted payloads of a <see cref="SqliteFederationJournal"/>: appended to one file per round
/// (<c>payloads/round-{r}.log</c> beside the database) and referenced from the database by offset.
/// </summary>
/// <remarks>
/// Why not blobs in SQLite: in WAL mode a blob is written twice, to the WAL and again by the checkpoint
/// into the database, and the pages it held are rewritten when the closed round frees them. Here a
/// payload is written once, and a closed round's file is deleted whole. Payloads are written from the
/// uploads' threads: chunk by chunk into a range set aside as the upload streams (<see cref="Reserve"/>),
/// or whole at acceptance (<see cref="Append"/>). The journal fsyncs the files (and the folder, when a
/// file was created) while it commits the rows that point at the payloads, and acknowledges nothing
/// before both are done. A crash can so leave bytes no row names, which are never read, or rows of the
/// last commit naming bytes that did not reach the disk, which the journal drops at its next open.
/// </remarks>
internal sealed partial class PayloadLog : IDisposable
{
    private const string Prefix = "round-";
    private const string Suffix = ".log";
    private readonly object _lock = new();
    private readonly Dictionary<long, RoundFile> _files = [];
    private bool _folderChanged;
    private IOException? _syncFailure;
    private long _bytes;
    private bool _disposed;

    private PayloadLog(string folder, long bytes)
    {
        Folder = folder;
        _bytes = bytes;
    }

    /// <summary>The folder of the round files.</summary>
    public string Folder { get; }

    /// <summary>Opens (or creates) the log in <paramref name="folder"/>.</summary>
    public static PayloadLog Open(string folder)
    {
        bool created = !Directory.Exists(folder);
        Directory.CreateDirectory(folder);
        if (created) SyncFolder(Path.GetDirectoryName(Path.GetFullPath(folder))!);
        long bytes = 0;
        foreach (var (_, path) in RoundFiles(folder)) bytes += new FileInfo(path).Length;
        return new PayloadLog(folder, bytes);
    }

    /// <summary>
    /// Writes <paramref name="payload"/> at the end of round <paramref name="round"/>'s file, now, on the
    /// caller's thread, so the disk can take it while other uploads are still streaming; it is durable
    /// only after the next <see cref="Sync"/> that starts after this returns.
    /// </summary>
    /// <param name="round">The payload's round.</param>
    /// <param name="payload">The bytes, copied to the file before this returns.</param>
    /// <param name="room">Bytes the log may grow to (the journal's quota less the database), or null for no bound.</param>
    /// <returns>The payload's offset in that file.</returns>
    /// <exception cref="IOException">The file cannot be written, or <paramref name="room"/> would be passed (a full disk).</exception>
    public long Append(long round, ReadOnlySpan<byte> payload, long? room)
    {
        lock (_lock)
        {
            var (file, offset) = Take(round, payload.Length, room);
            try
            {
                RandomAccess.Write(file.Handle, payload, offset);
            }
            catch (IOException)
            {
                // A short write (a full disk) leaves nothing behind for the next payload to land after.
                RandomAccess.SetLength(file.Handle, offset);
                file.End = offset;
                _bytes -= payload.Length;
                throw;
            }
            file.Unsynced = true;
            return offset;
        }
    }

    /// <summary>
    /// Sets <paramref name="length"/> bytes aside at the end of round <paramref name="round"/>'s file for
    /// an upload that streams into it (<see cref="LogDraft"/>); the bytes count against the room until the round's file goes.
    /// </summary>
    /// <exception cref="IOException">The file cannot be opened, or <paramref name="room"/> would be passed.</exception>
    public LogDraft Reserve(long round, long length, long? room)
    {
        lock (_lock)
        {
            var (file, offset) = Take(round, length, room);
            return new LogDraft(this, round, file.Handle, offset, length);
        }
    }

    /// <summary>
    /// Counts a draft's bytes in the next <see cref="Sync"/>; false when its round's file is gone (the
    /// round closed under it), so the journal writes the payload again instead.
    /// </summary>
    public bool Adopt(LogDraft draft)
    {
        lock (_lock)
        {
            if (_disposed || !_files.TryGetValue(draft.Round, out var file) || file.Handle != draft.Handle) return false;
            file.Unsynced = true;
            return true;
        }
    }

    /// <summary>Takes <paramref name="length"/> bytes at the end of round <paramref name="round"/>'s file, within <paramref name="room"/>; under the lock.</summary>
    private (RoundFile File, long Offset) Take(long round, long length, long? room)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (room is long limit && _bytes + length > limit)
            throw new IOException($"The journal is full: its payloads take {_bytes} of the {limit} bytes left to them, and one of {length} does not fit.");
        var file = FileOf(round);
        long offset = file.End;
        file.End += length;
        _bytes += length;
        return (file, offset);
    }

    private RoundFile FileOf(long round)
    {
        if (_files.TryGetValue(round, out var file)) return file;
        string path = PathOf(round);
        _folderChanged |= !File.Exists(path);
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        // Appends go past whatever a crash left after the last committed payload: no row names those bytes.
        file = new RoundFile(handle) { End = RandomAccess.GetLength(handle) };
        _files[round] = file;
        return file;
    }

    /// <summary>
    /// Makes every payload appended before this call durable: the files, then the folder if a file was
    /// created. Appends go on meanwhile. A failed fsync fails every later call too, since the kernel may
    /// have dropped the pages it could not write (a retried fsync would wrongly succeed).
    /// </summary>
    /// <exception cref="IOException">The disk refused a flush, now or before.</exception>
    public void Sync()
    {
        List<SafeFileHandle> handles = [];
        bool folder;
        lock (_lock)
        {
            if (_syncFailure is { } failed) throw new IOException($"The payloads in {Folder} could not be flushed earlier: {failed.Message}", failed);
            foreach (var file in _files.Values)
            {
                if (!file.Unsynced) continue;
                file.Unsynced = false;
                handles.Add(file.Handle);
            }
            folder = _folderChanged;
            _folderChanged = false;
        }
        try
        {
            foreach (var handle in handles) RandomAccess.FlushToDisk(handle);
            if (folder) SyncFolder(Folder);
        }
        catch (IOException e)
        {
            lock (_lock) _syncFailure = e;
            throw;
        }
    }

    /// <summary>Reads <paramref name="length"/> bytes at <paramref name="offset"/> of round <paramref name="round"/>'s file.</summary>
    /// <exception cref="InvalidDataException">The file is missing or shorter than the record says.</exception>
    public byte[] Read(long round, long offset, int length)
    {
        string path = PathOf(round);
        if (!File.Exists(path)) throw new InvalidDataException($"The payload file {path} is missing.");
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var bytes = new byte[length];
        int read = 0;
        while (read < length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(read), offset + read);
            if (n == 0) throw new InvalidDataException($"The payload file {path} ends at byte {offset + read}; a record names {length} bytes at {offset}.");
            read += n;
        }
        return bytes;
    }

    /// <summary>
    /// Deletes the files of rounds up to <paramref name="round"/>, whose payloads the model now holds.
    /// Called from the thread that calls <see cref="Sync"/>; a file that cannot be deleted is tried again at the next call.
    /// </summary>
    public void DeleteThrough(long round)
    {
        lock (_lock)
        {
            foreach (var (r, path) in RoundFiles(Folder))
            {
                if (r > round) continue;
                if (_files.Remove(r, out var file)) file.Handle.Dispose();
                try
                {
                    long length = new FileInfo(path).Length;
                    File.Delete(path);
                    _bytes -= length;
                }
                catch (IOException)
                {
                    // Still there: an orphan the next round's close or the next open deletes.
                }
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var file in _files.Values) file.Handle.Dispose();
            _files.Clear();
        }
    }

    private sealed class RoundFile(SafeFileHandle handle)
    {
        public SafeFileHandle Handle { get; } = handle;

        public long End { get; set; }

        public bool Unsynced { get; set; }
    }

    private string PathOf(long round) => Path.Combine(Folder, string.Create(CultureInfo.InvariantCulture, $"{Prefix}{round}{Suffix}"));

    private static IEnumerable<(long Round, string Path)> RoundFiles(string folder)
    {
        foreach (string path in Directory.EnumerateFiles(folder, Prefix + "*" + Suffix))
        {
            string name = Path.GetFileName(path);
            if (long.TryParse(name.AsSpan(Prefix.Length, name.Length - Prefix.Length - Suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long round))
                yield return (round, path);
        }
    }

    /// <summary>
    /// fsyncs a folder, so that a file created in it survives a power cut (POSIX keeps a new name only
    /// once its folder is synced). .NET has no call for it; on Windows, NTFS journals names itself.
    /// </summary>
    private static void SyncFolder(string folder)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())) return;
        int fd = open(folder, 0 /* O_RDONLY */);
        if (fd < 0) throw new IOException($"The folder {folder} cannot be opened to sync it (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            if (fsync(fd) != 0) throw new IOException($"The folder {folder} cannot be synced (errno {Marshal.GetLastPInvokeError()}).");
        }
        finally
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int close(int fd);
}
