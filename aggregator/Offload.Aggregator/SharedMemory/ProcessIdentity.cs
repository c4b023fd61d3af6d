using System.Globalization;

namespace Offload.Aggregator.SharedMemory;

/// <summary>
/// A process as the kernel names it: its pid and its start time (clock ticks since boot, field 22
/// of <c>/proc/PID/stat</c>). The pair survives pid reuse, so the store can tell a dead attacher from
/// a new process that got its pid. A zombie counts as dead: it holds nothing any more.
/// </summary>
internal readonly record struct ProcessIdentity(int Pid, long StartTime)
{
    /// <summary>This process.</summary>
    public static ProcessIdentity Current { get; } = new(Environment.ProcessId, StartTimeOf(Environment.ProcessId) ?? 0);

    /// <summary>Whether the process this identity names is still running.</summary>
    public bool IsAlive()
    {
        if (Pid == Environment.ProcessId) return StartTime == Current.StartTime;
        return StartTimeOf(Pid) is long start && start == StartTime;
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
