using System.Globalization;

namespace Offload.Aggregator.SharedMemory;

/// <summary>
/// A process as the kernel names it: its pid, its start time (clock ticks since boot, field 22 of
/// <c>/proc/PID/stat</c>) and its pid namespace (the inode of <c>/proc/self/ns/pid</c>). Pid and start
/// time survive pid reuse, so the store can tell a dead attacher from a new process that got its pid.
/// A zombie counts as dead: it holds nothing any more. A pid means nothing outside its namespace
/// (two pods sharing <c>/dev/shm</c> without sharing their process namespace), so an attacher from
/// another namespace is never judged dead from here: only a process that sees it can reclaim it.
/// </summary>
internal readonly record struct ProcessIdentity(int Pid, long StartTime, ulong Namespace)
{
    /// <summary>This process.</summary>
    public static ProcessIdentity Current { get; } = new(Environment.ProcessId, StartTimeOf(Environment.ProcessId) ?? 0, CurrentNamespace());

    /// <summary>Whether the process this identity names may still be running: false only when it is known dead.</summary>
    public bool IsAlive()
    {
        if (Namespace != Current.Namespace) return true;
        if (Pid == Environment.ProcessId) return StartTime == Current.StartTime;
        return StartTimeOf(Pid) is long start && start == StartTime;
    }

    /// <summary>The inode number in <c>pid:[N]</c>, the target of <c>/proc/self/ns/pid</c>; 0 when it cannot be read.</summary>
    private static ulong CurrentNamespace()
    {
        try
        {
            string? target = new FileInfo("/proc/self/ns/pid").LinkTarget;
            if (target is null) return 0;
            int open = target.IndexOf('['), close = target.IndexOf(']');
            return open >= 0 && close > open && ulong.TryParse(target.AsSpan(open + 1, close - open - 1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode) ? inode : 0;
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>The start time of a running (not zombie) process, or null when there is none with that pid.</summary>
    private static long? StartTimeOf(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
        int close = stat.LastIndexOf(')');
        if (close < 0) return null;
        var rest = stat.AsSpan(close + 1).Trim();
        // rest starts at field 3 (state); field 22 is the 20th from here.
        int field = 3;
        foreach (var range in rest.Split(' '))
        {
            var token = rest[range];
            if (field == 3 && token is "Z" or "X") return null;
            if (field == 22) return long.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out long start) ? start : null;
            field++;
        }
        return null;
    }
}
