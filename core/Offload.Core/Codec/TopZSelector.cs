using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Offload.Core.Codec;

/// <summary>
/// Top-z selection: the positions of the k entries of largest magnitude, in O(n) and without sorting.
/// </summary>
/// <remarks>
/// The bits of |x| as an unsigned integer order like |x| itself, so a three-level radix select
/// (11, 11 and 9 bits) finds the exact k-th largest magnitude T: one histogram pass over the
/// tensor, then passes over the few entries that share T's top bits. A final vectorised pass keeps
/// every entry above T and, of the entries equal to T, the first ones by position, so exactly k are
/// kept and the choice is deterministic.
/// </remarks>
internal static class TopZSelector
{
    private const uint MagnitudeMask = 0x7FFF_FFFF;

    /// <summary>
    /// Writes the positions of the <paramref name="kept"/> largest-magnitude entries of
    /// <paramref name="values"/> (finite) into <paramref name="positions"/>, in increasing order.
    /// </summary>
    public static void Select(ReadOnlySpan<float> values, int kept, Span<int> positions)
    {
        int n = values.Length;
        if (kept <= 0) return;
        if (kept >= n)
        {
            for (int i = 0; i < n; i++) positions[i] = i;
            return;
        }
        ReadOnlySpan<uint> bits = MemoryMarshal.Cast<float, uint>(values);
        uint threshold = FindThreshold(bits, kept, out int equalToKeep);
        Gather(bits, threshold, equalToKeep, positions);
    }

    /// <summary>The k-th largest magnitude (as bits) and how many entries equal to it are kept.</summary>
    private static uint FindThreshold(ReadOnlySpan<uint> bits, int kept, out int equalToKeep)
    {
        Span<int> histogram = stackalloc int[2048];

        // Level 1: bits 30..20 over the whole tensor; two interleaved histograms soften the
        // store-to-load stalls when neighbouring values fall into the same bin.
        Span<int> second = stackalloc int[2048];
        int i = 0;
        for (; i + 1 < bits.Length; i += 2)
        {
            histogram[(int)((bits[i] & MagnitudeMask) >> 20)]++;
            second[(int)((bits[i + 1] & MagnitudeMask) >> 20)]++;
        }
        if (i < bits.Length) histogram[(int)((bits[i] & MagnitudeMask) >> 20)]++;
        for (int b = 0; b < 2048; b++) histogram[b] += second[b];
        int bin1 = FindBin(histogram, kept, out int need);
        int candidates = histogram[bin1];

        uint[] rented = ArrayPool<uint>.Shared.Rent(candidates);
        try
        {
            Span<uint> inBin = rented.AsSpan(0, candidates);
            CollectRange(bits, (uint)bin1 << 20, ((uint)bin1 << 20) | 0xF_FFFF, inBin);

            // Level 2: bits 19..9 among the candidates.
            histogram.Clear();
            foreach (uint m in inBin) histogram[(int)((m >> 9) & 0x7FF)]++;
            int bin2 = FindBin(histogram, need, out need);
            uint prefix = ((uint)bin1 << 11) | (uint)bin2;

            // Level 3: bits 8..0 among the candidates sharing the 22-bit prefix.
            histogram.Clear();
            foreach (uint m in inBin)
                if (m >> 9 == prefix) histogram[(int)(m & 0x1FF)]++;
            int bin3 = FindBin(histogram[..512], need, out need);
            equalToKeep = need;
            return (prefix << 9) | (uint)bin3;
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(rented);
        }
    }

    /// <summary>Highest bin b with count(bins above b) &lt; wanted &lt;= count(bins from b); also how many of b are wanted.</summary>
    private static int FindBin(ReadOnlySpan<int> histogram, int wanted, out int wantedInBin)
    {
        int above = 0;
        for (int b = histogram.Length - 1; b >= 0; b--)
        {
            if (above + histogram[b] >= wanted)
            {
                wantedInBin = wanted - above;
                return b;
            }
            above += histogram[b];
        }
        throw new InvalidOperationException("Top-z selection asked for more entries than the tensor holds.");
    }

    /// <summary>Copies the magnitudes in [low, high] into <paramref name="destination"/> (sized to their count).</summary>
    private static void CollectRange(ReadOnlySpan<uint> bits, uint low, uint high, Span<uint> destination)
    {
        int count = 0, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var mask = Vector256.Create(MagnitudeMask);
            var lo = Vector256.Create(low);
            var hi = Vector256.Create(high);
            for (; i + 8 <= bits.Length; i += 8)
            {
                var m = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(bits), (nuint)i) & mask;
                var hit = Vector256.GreaterThanOrEqual(m, lo) & Vector256.LessThanOrEqual(m, hi);
                if (hit == Vector256<uint>.Zero) continue;
                for (int j = 0; j < 8; j++)
                {
                    uint v = m.GetElement(j);
                    if (v >= low && v <= high) destination[count++] = v;
                }
            }
        }
        for (; i < bits.Length; i++)
        {
            uint v = bits[i] & MagnitudeMask;
            if (v >= low && v <= high) destination[count++] = v;
        }
    }

    /// <summary>Writes, in order, every position above the threshold and the first <paramref name="equalToKeep"/> equal to it.</summary>
    private static void Gather(ReadOnlySpan<uint> bits, uint threshold, int equalToKeep, Span<int> positions)
    {
        int count = 0, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var mask = Vector256.Create(MagnitudeMask);
            var t = Vector256.Create(threshold);
            for (; i + 8 <= bits.Length; i += 8)
            {
                var m = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(bits), (nuint)i) & mask;
                uint hits = Vector256.GreaterThanOrEqual(m, t).ExtractMostSignificantBits();
                while (hits != 0)
                {
                    int j = System.Numerics.BitOperations.TrailingZeroCount(hits);
                    hits &= hits - 1;
                    Keep(m.GetElement(j), i + j, threshold, ref equalToKeep, positions, ref count);
                }
            }
        }
        for (; i < bits.Length; i++)
        {
            uint v = bits[i] & MagnitudeMask;
            if (v >= threshold) Keep(v, i, threshold, ref equalToKeep, positions, ref count);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Keep(uint magnitude, int position, uint threshold, ref int equalToKeep, Span<int> positions, ref int count)
    {
        if (magnitude > threshold) positions[count++] = position;
        else if (equalToKeep > 0)
        {
            equalToKeep--;
            positions[count++] = position;
        }
    }
}
