using System.CommandLine;
using System.Text.Json;
using Offload.Cli.Deployment;
using Spectre.Console;

namespace Offload.Cli.Commands;

/// <summary><c>offload deploy check</c>: renders the Kubernetes overlays and checks them without a cluster.</summary>
public static class DeployCommand
{
    /// <summary>Exit code when an overlay has findings.</summary>
    public const int FindingsExit = 1;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var overlays = new Argument<string[]>("OVERLAY") { Description = "Kustomize folders to check (default: every folder under k8s/overlays).", Arity = ArgumentArity.ZeroOrMore };
        var output = new Option<string?>("--out") { Description = "Folder for each overlay's rendered manifests (<overlay>.yaml) and report.json." };
        var check = new Command("check", "Render each overlay with kubectl kustomize, parse every object into typed Kubernetes models, and check what an operator would be bitten by (docs/deploy.md). Exits 1 when anything is found.") { overlays, output };
        check.SetAction(parsed => Run(parsed.GetValue(overlays)!, parsed.GetValue(output), Console.Out));
        return new Command("deploy", "Work with the Kubernetes deployment in k8s/.") { check };
    }

    /// <summary>Checks <paramref name="overlays"/> (or every overlay under k8s/overlays) and prints the report.</summary>
    /// <param name="overlays">Kustomize folders; empty for every folder under k8s/overlays.</param>
    /// <param name="outputDirectory">Where the rendered manifests and report.json go, or null.</param>
    /// <param name="output">Where the report is printed.</param>
    /// <param name="searchFrom">Where to look for k8s/overlays (it and the folders above it); the working directory by default.</param>
    /// <exception cref="InvalidOptionException">An overlay does not exist or does not render, or kubectl is missing.</exception>
    public static int Run(IReadOnlyList<string> overlays, string? outputDirectory, TextWriter output, string? searchFrom = null)
    {
        var folders = overlays.Count > 0 ? overlays.ToList() : DefaultOverlays(searchFrom ?? Directory.GetCurrentDirectory());
        var reports = new List<DeploymentReport>();
        // Colours for a terminal only: a report written elsewhere (a file, a test) stays plain text.
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = output == Console.Out ? AnsiSupport.Detect : AnsiSupport.No });
        if (output != Console.Out || Console.IsOutputRedirected) console.Profile.Width = 160;
        foreach (string folder in folders)
        {
            if (!Directory.Exists(folder)) throw new InvalidOptionException($"OVERLAY: '{folder}' is not a folder.");
            var rendered = RenderedOverlay.Render(folder);
            var report = DeploymentCheck.Run(rendered, ServeCommand.Plan);
            reports.Add(report);
            if (outputDirectory is not null)
            {
                Directory.CreateDirectory(outputDirectory);
                File.WriteAllText(Path.Combine(outputDirectory, rendered.Name + ".yaml"), rendered.Yaml);
            }
            console.MarkupLine($"[bold]{Markup.Escape(rendered.Name)}[/] ({Markup.Escape(Path.GetRelativePath(Directory.GetCurrentDirectory(), folder))}): {rendered.Objects.Count} objects ({Markup.Escape(string.Join(", ", report.Objects.Select(p => $"{p.Value} {p.Key}")))}), {report.Rules.Count} checks: "
                + (report.Passed ? "[green]passed[/]" : $"[red]{report.Findings.Count} found[/]"));
            if (!report.Passed)
            {
                var table = new Table().AddColumns("check", "object", "finding");
                foreach (var f in report.Findings) table.AddRow(Markup.Escape(f.Rule), Markup.Escape(f.Subject), Markup.Escape(f.Message));
                console.Write(table);
            }
            if (report.ExternalSecrets.Count > 0)
                console.MarkupLine($"  secrets to create before applying it: {Markup.Escape(string.Join(", ", report.ExternalSecrets))}");
        }
        if (outputDirectory is not null)
            File.WriteAllText(Path.Combine(outputDirectory, "report.json"), JsonSerializer.Serialize(reports, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
        return reports.All(r => r.Passed) ? 0 : FindingsExit;
    }

    /// <summary>Every folder under k8s/overlays, from the working directory or the repository above it.</summary>
    private static List<string> DefaultOverlays(string searchFrom)
    {
        for (var dir = new DirectoryInfo(searchFrom); dir is not null; dir = dir.Parent)
        {
            string overlays = Path.Combine(dir.FullName, "k8s", "overlays");
            if (Directory.Exists(overlays))
                return Directory.GetDirectories(overlays).Where(d => File.Exists(Path.Combine(d, "kustomization.yaml"))).Order(StringComparer.Ordinal).ToList();
        }
        throw new InvalidOptionException("no k8s/overlays folder here or above: name the overlays to check (offload deploy check k8s/overlays/dev).");
    }
}
