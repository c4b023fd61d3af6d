using System.Buffers.Binary;
using System.Text;
using Offload.Cli.Commands;
using Offload.Core.Checksums;

namespace Offload.Cli.Tests.Commands;

/// <summary>
/// <c>offload inspect</c> on hostile files: the embedded layout's sizes are checked against the bytes
/// really there before a name or shape is built, so memory follows the file, not what it declares.
/// </summary>
public class InspectCommandTests
{
    /// <summary>An identity payload that embeds <paramref name="layout"/> and nothing after it but the CRC.</summary>
    private static byte[] Payload(int tensors, int parameters, byte[] layout)
    {
        var bytes = new byte[28 + layout.Length + 4];
        "OFZP"u8.CopyTo(bytes);
        bytes[4] = 1; // format version
        bytes[5] = 0; // identity
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), 1); // layout embedded
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)bytes.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(12), 0x0123456789ABCDEF);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(20), (uint)tensors);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24), (uint)parameters);
        layout.CopyTo(bytes, 28);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4), Crc32C.HashToUInt32(bytes.AsSpan(0, bytes.Length - 4)));
        return bytes;
    }

    private static (int Code, string Error, long Allocated) Inspect(byte[] payload)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("offload-inspect").FullName, "hostile.bin");
        File.WriteAllBytes(path, payload);
        var error = new StringWriter();
        var output = new StringWriter();
        long before = GC.GetAllocatedBytesForCurrentThread();
        int code = InspectCommand.Run(path, output, error);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        File.Delete(path);
        return (code, error.ToString(), allocated);
    }

    [Fact]
    public void A_million_embedded_tensors_with_no_room_for_their_records_exit_2_before_any_is_built()
    {
        // 7 bytes per tensor (a 4-character name, rank 0) and no records after them: the old reader
        // built a million names, shapes and specs (hundreds of MB) before finding the records missing.
        const int tensors = 1_000_000;
        var layout = new byte[7 * tensors];
        const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        for (int i = 0, at = 0; i < tensors; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(layout.AsSpan(at), 4);
            for (int c = 0, n = i; c < 4; c++, n /= 36) layout[at + 2 + c] = (byte)digits[n % 36];
            layout[at + 6] = 0;
            at += 7;
        }
        var payload = Payload(tensors, tensors, layout);

        var (code, error, allocated) = Inspect(payload);

        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("declares 1000000 tensors but after its embedded layout has room for at most 0 records", error);
        // The file itself is read whole; beyond it, nothing that grows with the declared tensors.
        Assert.True(allocated < payload.Length + (1 << 20), $"{allocated:N0} bytes allocated for a {payload.Length:N0}-byte file");
    }

    [Fact]
    public void An_embedded_tensor_declaring_2_to_the_40_elements_exits_2_naming_the_declared_size()
    {
        var layout = new List<byte>();
        layout.AddRange([1, 0, (byte)'w', 2]); // name "w", rank 2
        var dims = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(dims, 1 << 20);
        BinaryPrimitives.WriteUInt32LittleEndian(dims.AsSpan(4), 1 << 20);
        layout.AddRange(dims);
        layout.AddRange(new byte[20]); // room for one record header, so only the size can be at fault
        var payload = Payload(1, 1000, [.. layout]);

        var (code, error, allocated) = Inspect(payload);

        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("declares 1099511627776 elements (shape 1048576x1048576); the header declares 1000 parameters", error);
        Assert.DoesNotContain("   at ", error);
        Assert.True(allocated < 1 << 20, $"{allocated:N0} bytes allocated");
    }
}
