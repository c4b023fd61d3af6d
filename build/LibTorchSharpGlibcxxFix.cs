// MSBuild inline task (RoslynCodeTaskFactory). TorchSharp-cpu 0.107.0 ships libLibTorchSharp.so
// built with GCC 13: it pins GLIBCXX_3.4.32 through one symbol (std::ios_base_library_init) that
// no relocation uses. Debian 12's libstdc++ stops at 3.4.30, so the loader refuses the library.
// Marking that one version need weak (VER_FLG_WEAK in its Vernaux entry) turns the refusal into a
// warning. Linux only (the targets file checks). Two bytes change in place; nothing else in the file moves. See docs/architecture.md.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class LibTorchSharpGlibcxxFix : Task
{
    private const string Needed = "GLIBCXX_3.4.32";
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>Candidate copies of libLibTorchSharp.so in a build or publish output.</summary>
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        if (SystemLibStdCxxHas(Needed))
        {
            Log.LogMessage(MessageImportance.Low, "libstdc++ provides " + Needed + "; libLibTorchSharp.so left as shipped.");
            return true;
        }
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                string outcome = MarkWeak(path);
                Log.LogMessage(MessageImportance.Normal, "libLibTorchSharp.so fix: " + outcome + " (" + path + ")");
            }
            catch (Exception e)
            {
                Log.LogError("Could not repair " + path + " for this libstdc++: " + e.Message);
                return false;
            }
        }
        return !Log.HasLoggedErrors;
    }

    private static bool SystemLibStdCxxHas(string version)
    {
        string[] dirs = { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib" };
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        foreach (string dir in dirs)
        {
            string candidate = Path.Combine(dir, "libstdc++.so.6");
            if (!File.Exists(candidate)) continue;
            byte[] bytes = File.ReadAllBytes(candidate);
            return IndexOf(bytes, needle) >= 0;
        }
        return false; // No libstdc++ found where we look: patching is harmless, so do it.
    }

    /// <summary>Sets VER_FLG_WEAK on the GLIBCXX_3.4.32 need. Idempotent.</summary>
    private static string MarkWeak(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only 64-bit little-endian ELF is handled");
        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            long sh = checked((long)shoff + (long)i * shentsize);
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(elf, (int)sh + 0x28);
            int count = (int)BitConverter.ToUInt32(elf, (int)sh + 0x2C);
            long strSh = checked((long)shoff + (long)link * shentsize);
            long strOffset = (long)BitConverter.ToUInt64(elf, (int)strSh + 0x18);
            long need = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string name = ReadString(elf, strOffset + BitConverter.ToUInt32(elf, (int)aux + 8));
                    if (name == Needed)
                    {
                        int flagsAt = (int)aux + 4;
                        ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                        if ((flags & VerFlgWeak) != 0) return "already weak";
                        flags |= VerFlgWeak;
                        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
                        {
                            stream.Position = flagsAt;
                            stream.WriteByte((byte)(flags & 0xff));
                            stream.WriteByte((byte)(flags >> 8));
                        }
                        return "marked " + Needed + " weak";
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                uint next = BitConverter.ToUInt32(elf, (int)need + 12);
                if (next == 0) break;
                need += next;
            }
        }
        return "no " + Needed + " need found";
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            if (haystack[i] != needle[0]) continue;
            int j = 1;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    private static string ReadString(byte[] bytes, long start)
    {
        int end = (int)start;
        while (end < bytes.Length && bytes[end] != 0) end++;
        return Encoding.ASCII.GetString(bytes, (int)start, end - (int)start);
    }
}
