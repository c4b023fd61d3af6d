using System.Buffers;
using System.Buffers.Binary;
using Offload.Core.Model;

namespace Offload.Core.Codec;

/// <summary>
/// The FedZip encoder. It plans every tensor first (top-z selection, clustering, code lengths and the
/// exact size of each stream), so it knows the payload size before writing a byte, then writes.
/// </summary>
internal static class FedZipEncoder
{
    public static long MaxEncodedLength(TensorLayout layout, FedZipOptions options)
    {
        long total = PayloadFormat.HeaderLength + PayloadFormat.FedZipBodyHeaderLength + PayloadFormat.ChecksumLength;
        if (options.EmbedLayout) total += PayloadFormat.LayoutSectionLength(layout);
        foreach (var t in layout.Tensors)
        {
            int n = t.Length;
            if (n < options.DenseThreshold)
            {
                total += PayloadFormat.RecordHeaderLength + 4L * n;
                continue;
            }
            int m = options.KeptCount(n);
            int k = Math.Min(options.Clusters, m);
            long huffmanValues = (m * (long)CanonicalHuffman.MaxCodeLength + 7) / 8;
            long bitmap = (n + 7L) / 8;
            long fixedPositions = ((long)m * PayloadReader.FixedWidth(n) + 7) / 8 + ((long)m * PayloadReader.FixedWidth(k) + 7) / 8;
            long rice = ((long)m * (3 + RiceBase(n, m)) + 7) / 8;
            total += PayloadFormat.RecordHeaderLength + 5L * k + Math.Max(Math.Max(bitmap, rice) + huffmanValues, fixedPositions);
        }
        return total;
    }

    /// <summary>floor(log2(n / m)), at most 30: the Rice parameter for the mean gap, always among the candidates.</summary>
    private static int RiceBase(int n, int m) => Math.Min(30, System.Numerics.BitOperations.Log2((uint)Math.Max(1, n / Math.Max(1, m))));

    public static bool TryEncode(ReadOnlySpan<float> delta, TensorLayout layout, FedZipOptions options, Span<byte> destination, out int bytesWritten, Span<float> reconstruction)
    {
        var plans = new TensorPlan[layout.Tensors.Count];
        try
        {
            long total = PayloadFormat.HeaderLength + PayloadFormat.FedZipBodyHeaderLength + PayloadFormat.ChecksumLength;
            if (options.EmbedLayout) total += PayloadFormat.LayoutSectionLength(layout);
            for (int i = 0; i < plans.Length; i++)
            {
                var spec = layout.Tensors[i];
                plans[i] = TensorPlan.Create(delta.Slice(spec.Offset, spec.Length), options);
                total += plans[i].RecordBytes;
            }
            if (total > destination.Length)
            {
                bytesWritten = 0;
                return false;
            }

            int length = (int)total;
            var payload = destination[..length];
            PayloadFormat.WriteHeader(payload, PayloadCodec.FedZip, layout, options.EmbedLayout, length);
            int at = PayloadFormat.HeaderLength;
            if (options.EmbedLayout) at += PayloadFormat.WriteLayout(payload[at..], layout);
            WriteBodyHeader(payload.Slice(at, PayloadFormat.FedZipBodyHeaderLength), options);
            at += PayloadFormat.FedZipBodyHeaderLength;
            for (int i = 0; i < plans.Length; i++)
            {
                var spec = layout.Tensors[i];
                plans[i].Write(payload.Slice(at, plans[i].RecordBytes), delta.Slice(spec.Offset, spec.Length));
                at += plans[i].RecordBytes;
            }
            PayloadFormat.WriteChecksum(payload);

            if (!reconstruction.IsEmpty)
                for (int i = 0; i < plans.Length; i++)
                {
                    var spec = layout.Tensors[i];
                    plans[i].Reconstruct(delta.Slice(spec.Offset, spec.Length), reconstruction.Slice(spec.Offset, spec.Length));
                }
            bytesWritten = length;
            return true;
        }
        finally
        {
            foreach (var plan in plans) plan?.Dispose();
        }
    }

    private static void WriteBodyHeader(Span<byte> body, FedZipOptions options)
    {
        BinaryPrimitives.WriteSingleLittleEndian(body, (float)options.TopZ);
        BinaryPrimitives.WriteUInt16LittleEndian(body[4..], (ushort)options.Clusters);
        body[6] = (byte)options.Encoding;
        body[7] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(body[8..], (uint)options.DenseThreshold);
    }

    /// <summary>Everything decided about one tensor before writing: kept positions, centroid indices, codes and sizes.</summary>
    private sealed class TensorPlan : IDisposable
    {
        private int[]? _positions;
        private byte[]? _indices;
        private float[] _centroids = [];
        private byte[] _lengths = [];
        private uint[] _codes = [];

        private TensorSectionMode _mode;
        private int _parameter, _clusters, _elements, _kept, _positionBytes, _valueBytes;

        public int RecordBytes { get; private set; }

        public static TensorPlan Create(ReadOnlySpan<float> values, FedZipOptions options)
        {
            var plan = new TensorPlan { _elements = values.Length };
            if (values.Length < options.DenseThreshold) plan.PlanDense();
            else plan.PlanSparse(values, options);
            return plan;
        }

        private void PlanDense()
        {
            _mode = TensorSectionMode.Dense;
            _kept = _elements;
            _valueBytes = 4 * _elements;
            RecordBytes = PayloadFormat.RecordHeaderLength + _valueBytes;
        }

        private void PlanSparse(ReadOnlySpan<float> values, FedZipOptions options)
        {
            int n = _elements;
            int m = options.KeptCount(n);
            _kept = m;
            _positions = ArrayPool<int>.Shared.Rent(m);
            _indices = ArrayPool<byte>.Shared.Rent(m);
            var positions = _positions.AsSpan(0, m);
            var indices = _indices.AsSpan(0, m);
            TopZSelector.Select(values, m, positions);

            // Cluster the kept values (sorted copy), then label each kept entry with its cluster.
            float[] scratch = ArrayPool<float>.Shared.Rent(2 * m);
            try
            {
                var kept = scratch.AsSpan(0, m);
                var sorted = scratch.AsSpan(m, m);
                for (int i = 0; i < m; i++) kept[i] = values[positions[i]];
                kept.CopyTo(sorted);
                sorted.Sort();
                Span<float> upper = stackalloc float[FedZipOptions.MaxClusters];
                Span<float> centroids = stackalloc float[FedZipOptions.MaxClusters];
                _clusters = OptimalKMeans1D.Cluster(sorted, options.Clusters, centroids, upper, out _);
                _centroids = centroids[.._clusters].ToArray();
                var upperBounds = upper[.._clusters];
                for (int i = 0; i < m; i++) indices[i] = (byte)ClusterOf(kept[i], upperBounds);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scratch);
            }

            int k = _clusters;
            Span<long> frequency = stackalloc long[k];
            foreach (byte c in indices) frequency[c]++;
            long huffmanBits = 0;
            if (k >= 2)
            {
                _lengths = new byte[k];
                _codes = new uint[k];
                CanonicalHuffman.BuildLengths(frequency, _lengths.AsSpan(0, k));
                CanonicalHuffman.BuildCodes(_lengths.AsSpan(0, k), _codes.AsSpan(0, k));
                for (int c = 0; c < k; c++) huffmanBits += frequency[c] * _lengths[c];
            }
            long huffmanBytes = (huffmanBits + 7) / 8;

            int width = PayloadReader.FixedWidth(n);
            long bitmapCost = (n + 7L) / 8 + huffmanBytes + (k >= 2 ? k : 0);
            long fixedPositionBytes = ((long)m * width + 7) / 8;
            long fixedIndexBytes = ((long)m * PayloadReader.FixedWidth(k) + 7) / 8;
            long fixedCost = fixedPositionBytes + fixedIndexBytes;
            int rice = BestRiceParameter(positions, n, out long riceBits);
            long riceBytes = (riceBits + 7) / 8;
            long gapsCost = riceBytes + huffmanBytes + (k >= 2 ? k : 0);

            _mode = options.Encoding switch
            {
                FedZipEncoding.Huffman => TensorSectionMode.Huffman,
                FedZipEncoding.Positions => TensorSectionMode.Positions,
                FedZipEncoding.Gaps => TensorSectionMode.Gaps,
                // Smallest wins; ties go to the simpler layout (positions, then bitmap, then gaps).
                _ => fixedCost <= Math.Min(bitmapCost, gapsCost) ? TensorSectionMode.Positions
                    : bitmapCost <= gapsCost ? TensorSectionMode.Huffman : TensorSectionMode.Gaps,
            };
            (_parameter, _positionBytes, _valueBytes) = _mode switch
            {
                TensorSectionMode.Huffman => (0, (int)((n + 7L) / 8), (int)huffmanBytes),
                TensorSectionMode.Positions => (width, (int)fixedPositionBytes, (int)fixedIndexBytes),
                _ => (rice, (int)riceBytes, (int)huffmanBytes),
            };
            int lengthsBytes = _mode != TensorSectionMode.Positions && k >= 2 ? k : 0;
            RecordBytes = PayloadFormat.RecordHeaderLength + 4 * k + lengthsBytes + _positionBytes + _valueBytes;
        }

        /// <summary>The first cluster whose largest value is at least <paramref name="value"/>.</summary>
        private static int ClusterOf(float value, ReadOnlySpan<float> upperBounds)
        {
            int low = 0, high = upperBounds.Length - 1;
            while (low < high)
            {
                int mid = (low + high) >>> 1;
                if (value <= upperBounds[mid]) high = mid;
                else low = mid + 1;
            }
            return low;
        }

        /// <summary>
        /// The Rice parameter, among floor(log2(n/m)) and its neighbours, that codes the gaps
        /// (distance to the previous kept position minus one) in the fewest bits.
        /// </summary>
        private static int BestRiceParameter(ReadOnlySpan<int> positions, int n, out long bits)
        {
            int baseline = RiceBase(n, positions.Length);
            int best = baseline;
            bits = long.MaxValue;
            for (int r = Math.Max(0, baseline - 1); r <= Math.Min(30, baseline + 1); r++)
            {
                long total = (long)positions.Length * (1 + r);
                int previous = -1;
                foreach (int p in positions)
                {
                    total += (p - previous - 1) >> r;
                    previous = p;
                }
                if (total < bits)
                {
                    bits = total;
                    best = r;
                }
            }
            return best;
        }

        public void Write(Span<byte> record, ReadOnlySpan<float> values)
        {
            int k = _clusters;
            PayloadFormat.WriteRecordHeader(record, _mode, _parameter, k, _elements, _kept, _positionBytes, _valueBytes);
            int at = PayloadFormat.RecordHeaderLength;
            if (_mode == TensorSectionMode.Dense)
            {
                WriteFloats(record[at..], values);
                return;
            }
            for (int c = 0; c < k; c++, at += 4) BinaryPrimitives.WriteSingleLittleEndian(record[at..], _centroids[c]);
            bool huffman = _mode != TensorSectionMode.Positions && k >= 2;
            if (huffman)
            {
                _lengths.AsSpan(0, k).CopyTo(record[at..]);
                at += k;
            }
            var positions = _positions.AsSpan(0, _kept);
            var indices = _indices.AsSpan(0, _kept);
            var positionSection = record.Slice(at, _positionBytes);
            var valueSection = record.Slice(at + _positionBytes, _valueBytes);

            switch (_mode)
            {
                case TensorSectionMode.Huffman:
                    positionSection.Clear();
                    foreach (int p in positions) positionSection[p >> 3] |= (byte)(1 << (p & 7));
                    break;
                case TensorSectionMode.Positions:
                {
                    var writer = new BitWriter(positionSection);
                    foreach (int p in positions) writer.Write((uint)p, _parameter);
                    writer.Finish();
                    break;
                }
                default:
                {
                    var writer = new BitWriter(positionSection);
                    int r = _parameter;
                    uint mask = (1u << r) - 1;
                    int previous = -1;
                    foreach (int p in positions)
                    {
                        uint gap = (uint)(p - previous - 1);
                        writer.WriteUnary(gap >> r);
                        writer.Write(gap & mask, r);
                        previous = p;
                    }
                    writer.Finish();
                    break;
                }
            }

            var indexWriter = new BitWriter(valueSection);
            if (huffman)
                foreach (byte c in indices) indexWriter.Write(_codes[c], _lengths[c]);
            else if (_mode == TensorSectionMode.Positions)
            {
                int width = PayloadReader.FixedWidth(k);
                foreach (byte c in indices) indexWriter.Write(c, width);
            }
            indexWriter.Finish();
        }

        public void Reconstruct(ReadOnlySpan<float> values, Span<float> destination)
        {
            if (_mode == TensorSectionMode.Dense)
            {
                values.CopyTo(destination);
                return;
            }
            destination.Clear();
            var positions = _positions.AsSpan(0, _kept);
            var indices = _indices.AsSpan(0, _kept);
            for (int i = 0; i < positions.Length; i++) destination[positions[i]] = _centroids[indices[i]];
        }

        public void Dispose()
        {
            if (_positions is not null) ArrayPool<int>.Shared.Return(_positions);
            if (_indices is not null) ArrayPool<byte>.Shared.Return(_indices);
            _positions = null;
            _indices = null;
        }
    }

    /// <summary>Writes floats as little-endian bytes.</summary>
    internal static void WriteFloats(Span<byte> destination, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).CopyTo(destination);
            return;
        }
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], values[i]);
    }
}
