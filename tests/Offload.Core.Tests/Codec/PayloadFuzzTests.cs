using System.Diagnostics;
using Offload.Core.Codec;
using Offload.Core.Model;
using Xunit.Abstractions;

namespace Offload.Core.Tests.Codec;

/// <summary>
/// Mutates valid payloads of both codecs and every encoding and feeds them to the decoders and the
/// inspector, which must either succeed or throw <see cref="InvalidPayloadException"/>: never another
/// exception, a hang, or an allocation out of proportion to the layout. Most cases have their CRC
/// recomputed (and the header's length fixed) so that parsing past the checksum is exercised.
/// </summary>
public class PayloadFuzzTests(ITestOutputHelper output)
{
    private const int Cases = 300_000;
    private const long AllocationLimit = 256 * 1024;

    private sealed record Corpus(byte[] Payload, TensorLayout Layout, IUpdateCodec Codec, int[] LengthFields, (int, int)[] CodeLengths, (int, int)[] Streams);

    private static List<Corpus> BuildCorpus()
    {
        var corpus = new List<Corpus>();
        TensorLayout[] layouts =
        [
            TensorLayout.Create([("conv.weight", [4, 2, 3, 3]), ("conv.bias", [4]), ("fc.weight", [10, 12]), ("fc.bias", [10])]),
            TensorLayout.Create([("embed", [50, 6]), ("norm", [6])]),
            TensorLayout.Create([("w", [1])]),
            TensorLayout.Create([("a", [257]), ("b", [33, 3])]),
        ];
        var codecs = new List<IUpdateCodec> { IdentityCodec.Instance, new IdentityCodec(embedLayout: true) };
        foreach (var encoding in Enum.GetValues<FedZipEncoding>())
            foreach (var (z, k, dense, embed) in new[] { (0.1, 3, 16, false), (0.5, 4, 0, true), (1.0, 16, 0, false), (0.05, 1, 8, true), (0.3, 256, 0, false) })
                codecs.Add(new FedZipCodec(new FedZipOptions { TopZ = z, Clusters = k, DenseThreshold = dense, Encoding = encoding, EmbedLayout = embed }));
        int seed = 1;
        foreach (var layout in layouts)
            foreach (var codec in codecs)
            {
                byte[] payload = codec.Encode(CodecCases.Values(layout.TotalLength, seed++), layout);
                corpus.Add(new Corpus(payload, layout, codec, PayloadMutation.LengthFields(payload),
                    PayloadMutation.Streams(payload, codeLengths: true), PayloadMutation.Streams(payload, codeLengths: false)));
            }
        return corpus;
    }

    [Fact]
    public void MutatedPayloads_EitherDecodeOrThrowInvalidPayload()
    {
        var corpus = BuildCorpus();
        var random = new Random(424242);
        var scratch = new float[1024];
        int rejected = 0, accepted = 0, crcFixed = 0;
        long worstAllocation = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Cases; i++)
        {
            var c = corpus[random.Next(corpus.Count)];
            var kind = PayloadMutation.All[random.Next(PayloadMutation.All.Length)];
            byte[] mutated = PayloadMutation.Apply(kind, c.Payload, c.LengthFields, c.CodeLengths, c.Streams, random);
            bool fix = random.Next(10) < 7;
            if (fix)
            {
                crcFixed++;
                if (kind is PayloadMutation.Kind.Truncate or PayloadMutation.Kind.Insert or PayloadMutation.Kind.Delete && random.Next(2) == 0)
                    PayloadMutation.FixLength(mutated);
                PayloadMutation.FixChecksum(mutated);
            }
            var destination = scratch.AsSpan(0, c.Layout.TotalLength);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                switch (i % 3)
                {
                    case 0: c.Codec.Decode(mutated, c.Layout, destination); break;
                    case 1: c.Codec.DecodeAndAccumulate(mutated, c.Layout, destination, 0.5f); break;
                    default: _ = UpdatePayload.Describe(mutated).ToString(); break;
                }
                accepted++;
            }
            catch (InvalidPayloadException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"Case {i} ({kind}, CRC {(fix ? "fixed" : "left")}) threw {e.GetType().Name}: {e.Message}{Environment.NewLine}{Convert.ToHexString(mutated)}{Environment.NewLine}{e}");
            }
            if (i % 3 != 2) worstAllocation = Math.Max(worstAllocation, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        clock.Stop();
        output.WriteLine($"{Cases} cases ({crcFixed} with the CRC recomputed) over {corpus.Count} payloads in {clock.Elapsed.TotalSeconds:0.00} s: {rejected} rejected, {accepted} accepted; worst decoder allocation {worstAllocation} bytes.");
        Assert.True(rejected > Cases / 2, "Most mutations should be rejected.");
        Assert.True(worstAllocation < AllocationLimit, $"A decode allocated {worstAllocation} bytes for a layout of at most 1024 floats.");
    }

    [Fact]
    public void Validation_refuses_exactly_the_mutated_payloads_a_decode_refuses_and_writes_nothing()
    {
        var corpus = BuildCorpus();
        var random = new Random(777);
        var scratch = new float[1024];
        int refused = 0;
        for (int i = 0; i < Cases / 10; i++)
        {
            var c = corpus[random.Next(corpus.Count)];
            var kind = PayloadMutation.All[random.Next(PayloadMutation.All.Length)];
            byte[] mutated = PayloadMutation.Apply(kind, c.Payload, c.LengthFields, c.CodeLengths, c.Streams, random);
            if (random.Next(10) < 7) PayloadMutation.FixChecksum(mutated);
            bool valid;
            try
            {
                UpdatePayload.Validate(mutated, c.Layout);
                valid = true;
            }
            catch (InvalidPayloadException)
            {
                valid = false;
                refused++;
            }
            var destination = scratch.AsSpan(0, c.Layout.TotalLength);
            destination.Fill(7f);
            bool decoded;
            try
            {
                UpdatePayload.CodecFor(mutated).DecodeAndAccumulate(mutated, c.Layout, destination, 1f);
                decoded = true;
            }
            catch (InvalidPayloadException)
            {
                decoded = false;
                Assert.All(destination.ToArray(), v => Assert.Equal(7f, v)); // A refused payload leaves the sum untouched.
            }
            Assert.True(valid == decoded, $"Case {i} ({kind}): validation said {(valid ? "valid" : "invalid")}, decoding {(decoded ? "succeeded" : "failed")}.");
            // The norm the gateway bounds updates by: refused exactly where validation refuses, and on a valid
            // payload the norm of what it decodes to (dense values are measured in place, per tensor).
            try
            {
                double norm = UpdatePayload.NormOf(mutated, c.Layout);
                Assert.True(valid, $"Case {i} ({kind}): NormOf measured a payload validation refuses.");
                var decoded2 = new float[c.Layout.TotalLength];
                UpdatePayload.CodecFor(mutated).Decode(mutated, c.Layout, decoded2);
                double expected = Offload.Core.Model.ModelUpdate.L2Norm(decoded2);
                Assert.True(Math.Abs(norm - expected) <= 1e-12 * Math.Max(1, expected), $"Case {i} ({kind}): norm {norm}, decoded {expected}");
            }
            catch (InvalidPayloadException)
            {
                Assert.False(valid, $"Case {i} ({kind}): NormOf refused a valid payload.");
            }
            // The add after a validation (checked once): the same sum bit for bit; and on bytes that were not
            // validated it skips the CRC and finiteness sweeps but still refuses what it cannot parse, never crashing.
            var trusted = new float[c.Layout.TotalLength];
            trusted.AsSpan().Fill(7f);
            try
            {
                UpdatePayload.AccumulateValidated(mutated, c.Layout, trusted, 1f);
                if (valid) Assert.Equal(destination.ToArray(), trusted);
            }
            catch (InvalidPayloadException)
            {
                Assert.False(valid, $"Case {i} ({kind}): a validated payload was refused by the add.");
            }
        }
        Assert.True(refused > Cases / 20, "Most mutations should be refused.");
    }

    [Fact]
    public void HugeDeclaredLengths_AreRejectedWithoutLargeAllocations()
    {
        var layout = TensorLayout.Create([("w", [64, 64])]);
        var codec = new FedZipCodec(new FedZipOptions { TopZ = 0.5, DenseThreshold = 0, Encoding = FedZipEncoding.Gaps });
        byte[] valid = codec.Encode(CodecCases.Values(layout.TotalLength, 5), layout);
        var destination = new float[layout.TotalLength];
        foreach (int field in PayloadMutation.LengthFields(valid))
            foreach (uint value in new[] { uint.MaxValue, (uint)int.MaxValue, 0x8000_0000u, 1u << 24 })
            {
                byte[] p = (byte[])valid.Clone();
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(field), value);
                PayloadMutation.FixChecksum(p);
                long before = GC.GetAllocatedBytesForCurrentThread();
                var e = Assert.Throws<InvalidPayloadException>(() => codec.Decode(p, layout, destination));
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < AllocationLimit, $"field at {field} = {value}");
            }
    }
}
