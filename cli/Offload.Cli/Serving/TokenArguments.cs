using Offload.Gateway.Authentication;

namespace Offload.Cli.Serving;

/// <summary>Turns <c>--tokens FILE</c>, <c>--token [ID=]T</c> and <c>--enrollment-code [ID=]CODE</c> into the gateway's <see cref="ClientTokens"/>.</summary>
public static class TokenArguments
{
    /// <summary>Builds the token registry.</summary>
    /// <exception cref="InvalidOptionException">A file is missing or malformed, a token is too short or repeated, or nothing at all was given.</exception>
    public static ClientTokens Create(IEnumerable<string> files, IEnumerable<string> tokens, IEnumerable<string> enrollmentCodes)
    {
        var registry = new ClientTokens();
        int codes = 0;
        try
        {
            foreach (string file in files)
            {
                if (!File.Exists(file)) throw new InvalidOptionException($"--tokens: the file '{file}' does not exist.");
                registry.AddFile(file);
            }
            foreach (string token in tokens)
            {
                var (id, secret) = Split(token);
                if (id is null) registry.Add(secret);
                else registry.Add(id, secret);
            }
            foreach (string code in enrollmentCodes)
            {
                var (id, secret) = Split(code);
                registry.AddEnrollmentCode(secret, id ?? $"enrolled-{++codes}");
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new InvalidOptionException(e.Message);
        }
        if (registry.Count == 0 && codes == 0 && !enrollmentCodes.Any())
            throw new InvalidOptionException("No client can authenticate: give --tokens FILE, --token T or --enrollment-code CODE.");
        return registry;
    }

    private static (string? Id, string Secret) Split(string value)
    {
        int eq = value.IndexOf('=');
        return eq > 0 ? (value[..eq], value[(eq + 1)..]) : (null, value);
    }
}
