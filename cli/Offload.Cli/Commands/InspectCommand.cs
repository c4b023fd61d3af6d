using System.CommandLine;
using Offload.Core.Codec;

namespace Offload.Cli.Commands;

/// <summary><c>offload inspect FILE</c>: describes an update payload (layout, FedZip settings, per-tensor sizes).</summary>
public static class InspectCommand
{
    /// <summary>Largest file read: a payload is below 2 GiB by format.</summary>
    public const long MaxPayloadBytes = int.MaxValue;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A payload file (for example update-sample.bin from offload simulate)." };
        var command = new Command("inspect", "Decode an update payload's structure and print its layout, parameters and per-tensor sizes.") { file };
        command.SetAction(parsed => Run(parsed.GetValue(file)!, Console.Out, Console.Error));
        return command;
    }

    /// <summary>Prints the description; returns 0, or 2 with a one-line reason when the file is not a valid payload.</summary>
    public static int Run(string path, TextWriter output, TextWriter error)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new InvalidOptionException($"{path}: no such file.");
        if (info.Length > MaxPayloadBytes) throw new InvalidOptionException($"{path}: {info.Length} bytes is larger than any payload ({MaxPayloadBytes} bytes at most).");
        byte[] bytes = File.ReadAllBytes(path);
        PayloadDescription description;
        try
        {
            description = UpdatePayload.Describe(bytes);
        }
        catch (InvalidPayloadException e)
        {
            error.WriteLine($"offload: {path} is not a valid payload: {e.Message}");
            return CommandLineEntry.UsageError;
        }
        output.Write(description.ToString());
        if (!description.ChecksumValid)
        {
            error.WriteLine($"offload: {path} is damaged: its CRC-32C does not match its contents.");
            return CommandLineEntry.UsageError;
        }
        return 0;
    }
}
