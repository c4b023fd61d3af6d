using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Offload.Gateway.Authentication;

/// <summary>
/// The per-client bearer tokens the gateway accepts, and the one-time enrollment codes that mint new
/// ones. Tokens are kept only as SHA-256 digests. Thread-safe.
/// </summary>
/// <remarks>
/// A token file has one client a line, <c>client-id token</c> (or just <c>token</c>, which names the
/// client <c>client-N</c> by line); blank lines and lines starting with <c>#</c> are skipped.
/// </remarks>
public sealed class ClientTokens
{
    /// <summary>Shortest token accepted, in characters.</summary>
    public const int MinTokenLength = 8;

    /// <summary>Longest client id accepted, in characters.</summary>
    public const int MaxClientIdLength = 128;

    private readonly ConcurrentDictionary<string, ClientIdentity> _byDigest = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _enrollmentCodes = new(StringComparer.Ordinal);
    private int _anonymous;

    /// <summary>Number of tokens held.</summary>
    public int Count => _byDigest.Count;

    /// <summary>Accepts <paramref name="token"/> as <paramref name="clientId"/>.</summary>
    /// <exception cref="ArgumentException">The token is shorter than <see cref="MinTokenLength"/> or holds whitespace, the id is not a valid client id (<see cref="CheckClientId"/>), or the token is already taken by another client.</exception>
    public void Add(string clientId, string token)
    {
        CheckClientId(clientId);
        ArgumentNullException.ThrowIfNull(token);
        if (token.Length < MinTokenLength || token.Any(char.IsWhiteSpace))
            throw new ArgumentException($"A token needs at least {MinTokenLength} characters and no whitespace.", nameof(token));
        var identity = new ClientIdentity(clientId);
        var stored = _byDigest.GetOrAdd(Digest(token), identity);
        if (stored.ClientId != clientId)
            throw new ArgumentException($"That token already belongs to client '{stored.ClientId}'.", nameof(token));
    }

    /// <summary>Accepts <paramref name="token"/> under a generated id, <c>client-N</c>; returns the id.</summary>
    /// <exception cref="ArgumentException">The token is too short, holds whitespace, or is already taken.</exception>
    public string Add(string token)
    {
        string id = $"client-{Interlocked.Increment(ref _anonymous)}";
        Add(id, token);
        return id;
    }

    /// <summary>Reads a token file (see the remarks) and adds every client in it.</summary>
    /// <exception cref="FormatException">A line has more than two fields; the message names the line.</exception>
    /// <exception cref="ArgumentException">A token is invalid or repeated.</exception>
    public void AddFile(string path)
    {
        int number = 0;
        foreach (string raw in File.ReadLines(path))
        {
            number++;
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            try
            {
                switch (fields.Length)
                {
                    case 1: Add(fields[0]); break;
                    case 2: Add(fields[0], fields[1]); break;
                    default: throw new FormatException($"{path}:{number}: expected 'client-id token' or 'token', found {fields.Length} fields.");
                }
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{path}:{number}: {e.Message}", e);
            }
        }
    }

    /// <summary>Registers a one-time <paramref name="code"/> that enrolls as <paramref name="clientId"/>.</summary>
    /// <exception cref="ArgumentException">The code is too short or the id is not a valid client id (<see cref="CheckClientId"/>).</exception>
    public void AddEnrollmentCode(string code, string clientId)
    {
        CheckClientId(clientId);
        ArgumentNullException.ThrowIfNull(code);
        if (code.Length < MinTokenLength) throw new ArgumentException($"An enrollment code needs at least {MinTokenLength} characters.", nameof(code));
        _enrollmentCodes[Digest(code)] = clientId;
    }

    /// <summary>Spends <paramref name="code"/> and mints a fresh random token for its client; false if the code is unknown or spent.</summary>
    public bool TryEnroll(string code, out ClientIdentity? identity, out string? token)
    {
        identity = null;
        token = null;
        if (string.IsNullOrEmpty(code) || !_enrollmentCodes.TryRemove(Digest(code), out string? clientId)) return false;
        token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        identity = new ClientIdentity(clientId);
        _byDigest[Digest(token)] = identity;
        return true;
    }

    /// <summary>The client <paramref name="token"/> belongs to, or null.</summary>
    public ClientIdentity? Resolve(string? token) =>
        string.IsNullOrEmpty(token) ? null : _byDigest.GetValueOrDefault(Digest(token));

    /// <summary>
    /// Refuses a client id that could not name the client's updates in a store: an id becomes a segment
    /// of their keys (<c>update/{client}/{task}</c>), where a <c>/</c> would let one client's keys read as
    /// another's, and the Dapr functions refuse such events. 1 to <see cref="MaxClientIdLength"/> ASCII
    /// letters, digits and <c>. _ - @ :</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The id is empty, too long or holds another character.</exception>
    public static void CheckClientId(string clientId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(clientId);
        bool valid = clientId.Length <= MaxClientIdLength;
        foreach (char c in clientId) valid &= char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@' or ':';
        if (!valid)
        {
            string shown = clientId.Length <= 40 ? clientId : clientId[..40] + "...";
            throw new ArgumentException($"The client id '{shown}' is not allowed: use 1 to {MaxClientIdLength} ASCII letters, digits or . _ - @ : (an id becomes part of store keys, update/<client>/<task>).", nameof(clientId));
        }
    }

    private static string Digest(string secret) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
