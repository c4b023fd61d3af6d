using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Offload.Core.Model;

namespace Offload.Core.Codec;

/// <summary>
/// Decodes payloads of either codec. It validates everything first, decoding the sparse streams
/// into pooled scratch (five bytes per kept entry), and only then writes to the caller's buffer, so a
/// rejected payload leaves the destination or accumulator untouched.
/// </summary>
internal static class UpdateDecoder
{
    public static void Decode(ReadOnlySpan<byte> payload, TensorLayout layout, PayloadCodec codec, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.EnsureMatches(destination, nameof(destination));
        Run(payload, layout, codec, destination, weight: 0, accumulate: false);
    }

    public static void DecodeAndAccumulate(ReadOnlySpan<byte> payload, TensorLayout layout, PayloadCodec codec, Span<float> accumulator, float weight)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.EnsureMatches(accumulator, nameof(accumulator));
        if (!float.IsFinite(weight)) throw new ArgumentOutOfRangeException(nameof(weight), weight, "The weight must be finite.");
        Run(payload, layout, codec, accumulator, weight, accumulate: true);
    }

    /// <summary>
    /// Adds bytes that <see cref="Validate"/> passed, unchanged since (the caller holds them): the
    /// header and streams are parsed again, since decoding needs them, but the CRC-32C and the dense
    /// values' finiteness, the sweeps over every byte, are not run a second time.
    /// </summary>
    public static void AccumulateValidated(ReadOnlySpan<byte> payload, TensorLayout layout, PayloadCodec codec, Span<float> accumulator, float weight)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.EnsureMatches(accumulator, nameof(accumulator));
        if (!float.IsFinite(weight)) throw new ArgumentOutOfRangeException(nameof(weight), weight, "The weight must be finite.");
        Run(payload, layout, codec, accumulator, weight, accumulate: true, validated: true);
    }

    /// <summary>
    /// Every check <see cref="Validate"/> makes, then the update's L2 norm (summed in double): an
    /// all-dense payload is checked in the one block-wise sweep and its values are read where they lie,
    /// with no model-sized write; a sparse one is decoded into pooled scratch (the decode makes every check).
    /// </summary>
    public static double Norm(ReadOnlySpan<byte> payload, TensorLayout layout, PayloadCodec codec)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (BitConverter.IsLittleEndian)
        {
            var records = PayloadReader.Read(payload, layout, codec, verifyChecksum: false).Records;
            if (AllDense(records))
            {
                CheckDense(payload, records);
                double sum = 0;
                foreach (var r in records) sum += ModelUpdate.SumOfSquares(MemoryMarshal.Cast<byte, float>(payload.Slice(r.ValuesAt, r.ValueBytes)));
                return Math.Sqrt(sum);
            }
        }
        float[] dense = ArrayPool<float>.Shared.Rent(layout.TotalLength);
        try
        {
            var update = dense.AsSpan(0, layout.TotalLength);
            Run(payload, layout, codec, update, weight: 0, accumulate: false);
            return ModelUpdate.L2Norm(update);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(dense);
        }
    }

    /// <summary>Every check a decode makes, writing nothing: afterwards a decode of the same bytes for the same layout cannot fail.</summary>
    public static void Validate(ReadOnlySpan<byte> payload, TensorLayout layout, PayloadCodec codec)
    {
        ArgumentNullException.ThrowIfNull(layout);
        Run(payload, layout, codec, Span<float>.Empty, weight: 0, accumulate: false, write: false);
    }

    private static void Run(ReadOnlySpan<byte> payload, TensorLayout layout, PayloadCodec codec, Span<float> target, float weight, bool accumulate, bool write = true,
        bool validated = false)
    {
        // A dense fold or validation runs the CRC-32C within its check sweep (CheckDense); bytes validated before skip both.
        bool sweep = BitConverter.IsLittleEndian && !validated && (accumulate || !write);
        var reader = PayloadReader.Read(payload, layout, codec, verifyChecksum: !sweep && !validated);
        var records = reader.Records;
        if ((sweep || validated) && AllDense(records))
        {
            if (sweep) CheckDense(payload, records);
            // Nothing is added before every check has passed, so a refused payload leaves the sum exactly as it was.
            if (write)
                foreach (var r in records)
                    AccumulateDense(payload.Slice(r.ValuesAt, r.ValueBytes), target.Slice(r.ElementOffset, r.Elements), weight);
            return;
        }
        if (sweep && !PayloadFormat.ChecksumMatches(payload)) throw new InvalidPayloadException("The payload's CRC-32C does not match its contents: it was corrupted.");
        long keptTotal = 0;
        int clustersTotal = 0;
        foreach (var r in records)
            if (r.Mode != TensorSectionMode.Dense)
            {
                keptTotal += r.Kept;
                clustersTotal += r.Clusters;
            }
        // keptTotal <= layout.TotalLength, and at most 8 per payload byte: bounded by what the caller trusts.
        int[] positions = ArrayPool<int>.Shared.Rent((int)keptTotal);
        byte[] indices = ArrayPool<byte>.Shared.Rent((int)keptTotal);
        float[] centroids = ArrayPool<float>.Shared.Rent(clustersTotal);
        try
        {
            int kept = 0, clusters = 0;
            foreach (var r in records)
            {
                if (r.Mode == TensorSectionMode.Dense)
                {
                    if (!validated) EnsureFinite(payload.Slice(r.ValuesAt, r.ValueBytes), r);
                    continue;
                }
                ReadCentroids(payload.Slice(r.CentroidsAt, 4 * r.Clusters), centroids.AsSpan(clusters, r.Clusters), r);
                DecodePositions(payload.Slice(r.PositionsAt, r.PositionBytes), r, positions.AsSpan(kept, r.Kept));
                DecodeIndices(payload, r, indices.AsSpan(kept, r.Kept));
                kept += r.Kept;
                clusters += r.Clusters;
            }

            // Everything is valid: now write.
            if (!write) return;
            kept = clusters = 0;
            Span<float> weighted = stackalloc float[FedZipOptions.MaxClusters];
            foreach (var r in records)
            {
                var slice = target.Slice(r.ElementOffset, r.Elements);
                if (r.Mode == TensorSectionMode.Dense)
                {
                    var section = payload.Slice(r.ValuesAt, r.ValueBytes);
                    if (accumulate) AccumulateDense(section, slice, weight);
                    else ReadFloats(section, slice);
                    continue;
                }
                var c = centroids.AsSpan(clusters, r.Clusters);
                var p = positions.AsSpan(kept, r.Kept);
                var idx = indices.AsSpan(kept, r.Kept);
                if (accumulate)
                {
                    for (int j = 0; j < c.Length; j++) weighted[j] = weight * c[j];
                    for (int i = 0; i < p.Length; i++) slice[p[i]] += weighted[idx[i]];
                }
                else
                {
                    slice.Clear();
                    for (int i = 0; i < p.Length; i++) slice[p[i]] = c[idx[i]];
                }
                kept += r.Kept;
                clusters += r.Clusters;
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(positions);
            ArrayPool<byte>.Shared.Return(indices);
            ArrayPool<float>.Shared.Return(centroids);
        }
    }

    /// <summary>Bytes per step of the check sweep: the CRC and the finiteness check read each block while it is in L1.</summary>
    internal const int CheckBlockBytes = 48 * 1024;

    private static bool AllDense(TensorRecord[] records)
    {
        foreach (var r in records)
            if (r.Mode != TensorSectionMode.Dense) return false;
        return true;
    }

    /// <summary>
    /// The checks of an all-dense payload in one sweep instead of two: the CRC-32C and the finiteness
    /// check block by block, each block read once from memory and once from cache. A fold adds after
    /// it (two sweeps instead of three); adding in this sweep and subtracting on a late CRC failure
    /// would save the second read but could leave rounding behind.
    /// </summary>
    private static void CheckDense(ReadOnlySpan<byte> payload, TensorRecord[] records)
    {
        uint crc = uint.MaxValue;
        int cursor = 0;
        int end = payload.Length - PayloadFormat.ChecksumLength;
        foreach (var r in records)
        {
            crc = Checksums.Crc32C.Update(crc, payload[cursor..r.ValuesAt]);
            var values = payload.Slice(r.ValuesAt, r.ValueBytes);
            for (int at = 0; at < values.Length; at += CheckBlockBytes)
            {
                var block = values.Slice(at, Math.Min(CheckBlockBytes, values.Length - at));
                crc = Checksums.Crc32C.Update(crc, block);
                int bad = ModelUpdate.FirstNonFinite(MemoryMarshal.Cast<byte, float>(block));
                if (bad >= 0) throw NonFinite(r, at / 4 + bad);
            }
            cursor = r.ValuesAt + r.ValueBytes;
        }
        crc = Checksums.Crc32C.Update(crc, payload[cursor..end]);
        if (~crc != BinaryPrimitives.ReadUInt32LittleEndian(payload[end..]))
            throw new InvalidPayloadException("The payload's CRC-32C does not match its contents: it was corrupted.");
    }

    private static void EnsureFinite(ReadOnlySpan<byte> section, in TensorRecord r)
    {
        if (!BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < section.Length; i += 4)
                if (!float.IsFinite(BinaryPrimitives.ReadSingleLittleEndian(section[i..]))) throw NonFinite(r, i / 4);
            return;
        }
        int bad = ModelUpdate.FirstNonFinite(MemoryMarshal.Cast<byte, float>(section));
        if (bad >= 0) throw NonFinite(r, bad);
    }

    private static InvalidPayloadException NonFinite(in TensorRecord r, int index) =>
        new($"Element {index} of the dense tensor at offset {r.ElementOffset} is not finite.");

    private static void ReadFloats(ReadOnlySpan<byte> section, Span<float> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            section.CopyTo(MemoryMarshal.AsBytes(destination));
            return;
        }
        for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(section[(4 * i)..]);
    }

    private static void AccumulateDense(ReadOnlySpan<byte> section, Span<float> accumulator, float weight)
    {
        if (BitConverter.IsLittleEndian)
        {
            // MultiplyAdd rounds the product before the sum (it does not fuse), matching acc + w * x.
            TensorPrimitives.MultiplyAdd(MemoryMarshal.Cast<byte, float>(section), weight, accumulator, accumulator);
            return;
        }
        for (int i = 0; i < accumulator.Length; i++) accumulator[i] += weight * BinaryPrimitives.ReadSingleLittleEndian(section[(4 * i)..]);
    }

    private static void ReadCentroids(ReadOnlySpan<byte> section, Span<float> centroids, in TensorRecord r)
    {
        for (int j = 0; j < centroids.Length; j++)
        {
            float c = BinaryPrimitives.ReadSingleLittleEndian(section[(4 * j)..]);
            if (!float.IsFinite(c)) throw new InvalidPayloadException($"Centroid {j} of the tensor at offset {r.ElementOffset} is not finite.");
            centroids[j] = c;
        }
    }

    private static void DecodePositions(ReadOnlySpan<byte> section, in TensorRecord r, Span<int> positions)
    {
        int n = r.Elements, m = r.Kept;
        if (m == 0) return;
        switch (r.Mode)
        {
            case TensorSectionMode.Huffman:
                DecodeBitmap(section, n, positions, r);
                return;
            case TensorSectionMode.Positions:
            {
                var reader = new BitReader(section, "positions");
                int width = r.Parameter, previous = -1;
                for (int i = 0; i < m; i++)
                {
                    int p = (int)reader.Read(width);
                    if (p >= n || p <= previous)
                        throw new InvalidPayloadException($"Position {i} of the tensor at offset {r.ElementOffset} is {p}; positions must increase and stay below {n}.");
                    positions[i] = previous = p;
                }
                reader.EnsureConsumedExactly();
                return;
            }
            default:
            {
                var reader = new BitReader(section, "gaps");
                int rice = r.Parameter;
                long previous = -1;
                for (int i = 0; i < m; i++)
                {
                    // The gap can be at most n - 2 - previous; a longer unary run is rejected while reading.
                    long room = n - 2 - previous;
                    long quotient = reader.ReadUnary(room >> rice);
                    long gap = quotient << rice | reader.Read(rice);
                    long p = previous + 1 + gap;
                    if (p >= n)
                        throw new InvalidPayloadException($"Gap {i} of the tensor at offset {r.ElementOffset} leads to position {p}, past its {n} elements.");
                    positions[i] = (int)p;
                    previous = p;
                }
                reader.EnsureConsumedExactly();
                return;
            }
        }
    }

    private static void DecodeBitmap(ReadOnlySpan<byte> bitmap, int n, Span<int> positions, in TensorRecord r)
    {
        int count = 0;
        int fullWords = bitmap.Length / 8;
        for (int w = 0; w <= fullWords; w++)
        {
            ulong word;
            if (w < fullWords) word = BinaryPrimitives.ReadUInt64LittleEndian(bitmap[(8 * w)..]);
            else
            {
                word = 0;
                var tail = bitmap[(8 * w)..];
                for (int b = 0; b < tail.Length; b++) word |= (ulong)tail[b] << (8 * b);
            }
            while (word != 0)
            {
                int p = 64 * w + BitOperations.TrailingZeroCount(word);
                word &= word - 1;
                if (p >= n) throw new InvalidPayloadException($"The bitmap of the tensor at offset {r.ElementOffset} sets bit {p}, past its {n} elements.");
                if (count == positions.Length) throw new InvalidPayloadException($"The bitmap of the tensor at offset {r.ElementOffset} sets more than the {positions.Length} bits its record declares.");
                positions[count++] = p;
            }
        }
        if (count != positions.Length)
            throw new InvalidPayloadException($"The bitmap of the tensor at offset {r.ElementOffset} sets {count} bits; its record declares {positions.Length}.");
    }

    private static void DecodeIndices(ReadOnlySpan<byte> payload, in TensorRecord r, Span<byte> indices)
    {
        int k = r.Clusters, m = r.Kept;
        if (m == 0) return;
        var section = payload.Slice(r.ValuesAt, r.ValueBytes);
        if (k == 1)
        {
            indices.Clear();
            return;
        }
        if (r.HasCodeLengths)
        {
            var lengths = payload.Slice(r.LengthsAt, k);
            int maxLength = CanonicalHuffman.Validate(lengths);
            ushort[] table = ArrayPool<ushort>.Shared.Rent(1 << maxLength);
            try
            {
                CanonicalHuffman.BuildDecodeTable(lengths, maxLength, table);
                var reader = new BitReader(section, "Huffman index");
                for (int i = 0; i < m; i++)
                {
                    ushort entry = table[reader.Peek(maxLength)];
                    reader.Skip(entry & 15);
                    indices[i] = (byte)(entry >> 4);
                }
                reader.EnsureConsumedExactly();
            }
            finally
            {
                ArrayPool<ushort>.Shared.Return(table);
            }
            return;
        }
        var fixedReader = new BitReader(section, "index");
        int width = PayloadReader.FixedWidth(k);
        for (int i = 0; i < m; i++)
        {
            uint c = fixedReader.Read(width);
            if (c >= k) throw new InvalidPayloadException($"Centroid index {c} of the tensor at offset {r.ElementOffset} is not below its {k} clusters.");
            indices[i] = (byte)c;
        }
        fixedReader.EnsureConsumedExactly();
    }
}
