namespace Offload.Core.Codec;

/// <summary>
/// Length-limited canonical Huffman codes over at most 256 symbols (centroid indices). Only code
/// lengths travel on the wire; both sides derive the codes from them, shortest first and by symbol
/// within a length, as DEFLATE does. Codes are stored bit-reversed so they can be written and
/// table-decoded least-significant bit first.
/// </summary>
internal static class CanonicalHuffman
{
    /// <summary>Longest code allowed on the wire.</summary>
    public const int MaxCodeLength = 15;

    /// <summary>
    /// Optimal code lengths for <paramref name="frequencies"/> (every one positive, two or more
    /// symbols), limited to <see cref="MaxCodeLength"/> by halving the frequencies until the tree fits.
    /// </summary>
    public static void BuildLengths(ReadOnlySpan<long> frequencies, Span<byte> lengths)
    {
        int n = frequencies.Length;
        Span<long> scaled = stackalloc long[n];
        frequencies.CopyTo(scaled);
        while (!TryBuildLengths(scaled, lengths))
            for (int i = 0; i < n; i++) scaled[i] = Math.Max(1, scaled[i] >> 1);
    }

    private static bool TryBuildLengths(ReadOnlySpan<long> frequencies, Span<byte> lengths)
    {
        // Two-queue Huffman over the symbols sorted by frequency: leaves in one queue, merged nodes
        // (created in non-decreasing weight order) in the other. Node ids: leaves 0..n-1, internal n...
        int n = frequencies.Length;
        // Sort by (frequency, symbol): unique keys make the tree independent of the sort algorithm.
        Span<long> keys = stackalloc long[n];
        for (int i = 0; i < n; i++) keys[i] = frequencies[i] << 8 | (long)i;
        keys.Sort();
        Span<int> order = stackalloc int[n];
        Span<long> weight = stackalloc long[2 * n];
        Span<int> parent = stackalloc int[2 * n];
        for (int i = 0; i < n; i++)
        {
            order[i] = (int)(keys[i] & 0xFF);
            weight[i] = keys[i] >> 8;
        }
        int leaf = 0, next = n, firstInternal = n;
        for (; next < 2 * n - 1; next++)
        {
            int a = TakeSmallest(weight, ref leaf, n, ref firstInternal, next);
            int b = TakeSmallest(weight, ref leaf, n, ref firstInternal, next);
            weight[next] = weight[a] + weight[b];
            parent[a] = next;
            parent[b] = next;
        }
        // Depths from the root (the last node) down; internal nodes are created after their children.
        Span<int> depth = stackalloc int[2 * n];
        depth[2 * n - 2] = 0;
        for (int node = 2 * n - 3; node >= 0; node--) depth[node] = depth[parent[node]] + 1;
        for (int i = 0; i < n; i++)
        {
            if (depth[i] > MaxCodeLength) return false;
            lengths[order[i]] = (byte)depth[i];
        }
        return true;
    }

    private static int TakeSmallest(Span<long> weight, ref int leaf, int leafEnd, ref int internalNext, int internalEnd)
    {
        if (leaf < leafEnd && (internalNext >= internalEnd || weight[leaf] <= weight[internalNext])) return leaf++;
        return internalNext++;
    }

    /// <summary>
    /// Checks that <paramref name="lengths"/> describe a complete prefix code (Kraft sum exactly 1)
    /// with every length in 1..15, and returns the longest length.
    /// </summary>
    /// <exception cref="InvalidPayloadException">A length is out of range, or the code is over-subscribed or incomplete.</exception>
    public static int Validate(ReadOnlySpan<byte> lengths)
    {
        long kraft = 0;
        int max = 0;
        foreach (byte len in lengths)
        {
            if (len < 1 || len > MaxCodeLength)
                throw new InvalidPayloadException($"A Huffman code length is {len}; lengths must be 1 to {MaxCodeLength}.");
            kraft += 1L << (MaxCodeLength - len);
            max = Math.Max(max, len);
        }
        if (kraft != 1L << MaxCodeLength)
            throw new InvalidPayloadException(kraft > 1L << MaxCodeLength
                ? "The Huffman code lengths are over-subscribed (Kraft sum above 1): not a prefix code."
                : "The Huffman code lengths are incomplete (Kraft sum below 1): some bit strings decode to nothing.");
        return max;
    }

    /// <summary>Canonical codes for valid <paramref name="lengths"/>, bit-reversed for LSB-first writing.</summary>
    public static void BuildCodes(ReadOnlySpan<byte> lengths, Span<uint> codes)
    {
        Span<int> countPerLength = stackalloc int[MaxCodeLength + 1];
        foreach (byte len in lengths) countPerLength[len]++;
        Span<uint> nextCode = stackalloc uint[MaxCodeLength + 2];
        uint code = 0;
        countPerLength[0] = 0;
        for (int len = 1; len <= MaxCodeLength; len++)
        {
            code = (code + (uint)countPerLength[len - 1]) << 1;
            nextCode[len] = code;
        }
        for (int s = 0; s < lengths.Length; s++)
        {
            int len = lengths[s];
            codes[s] = Reverse(nextCode[len]++, len);
        }
    }

    /// <summary>
    /// Fills a lookup table of 2^maxLength entries, indexed by the next maxLength bits (LSB first):
    /// each entry is symbol &lt;&lt; 4 | code length. The lengths must have passed <see cref="Validate"/>.
    /// </summary>
    public static void BuildDecodeTable(ReadOnlySpan<byte> lengths, int maxLength, Span<ushort> table)
    {
        Span<uint> codes = stackalloc uint[lengths.Length];
        BuildCodes(lengths, codes);
        int size = 1 << maxLength;
        for (int s = 0; s < lengths.Length; s++)
        {
            int len = lengths[s];
            ushort entry = (ushort)(s << 4 | len);
            for (int i = (int)codes[s]; i < size; i += 1 << len) table[i] = entry;
        }
    }

    private static uint Reverse(uint code, int length)
    {
        uint reversed = 0;
        for (int i = 0; i < length; i++)
        {
            reversed = reversed << 1 | (code & 1);
            code >>= 1;
        }
        return reversed;
    }
}
