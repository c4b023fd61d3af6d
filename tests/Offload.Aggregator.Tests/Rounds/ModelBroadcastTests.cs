using System.Numerics.Tensors;
using Offload.Aggregator.Rounds;
using Offload.Core.Checksums;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Core.Wire;

namespace Offload.Aggregator.Tests.Rounds;

public class ModelBroadcastTests
{
    private static readonly TensorLayout Layout = TensorLayout.Create([("conv", new[] { 40, 50 }), ("fc", new[] { 3000 }), ("bias", new[] { 10 })]);

    /// <summary>A seeded random walk of global models: version v is version v-1 plus a small step.</summary>
    private static GlobalModel[] Versions(int count, int seed = 3)
    {
        var random = new Random(seed);
        var weights = new float[Layout.TotalLength];
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)(random.NextDouble() - 0.5);
        var models = new GlobalModel[count];
        for (int v = 0; v < count; v++)
        {
            if (v > 0)
                for (int i = 0; i < weights.Length; i++) weights[i] += (float)((random.NextDouble() - 0.5) * 0.01);
            models[v] = new GlobalModel(Layout, new ModelVersion(v), weights);
        }
        return models;
    }

    [Fact]
    public void A_device_applying_each_change_holds_the_served_view_bit_for_bit()
    {
        var versions = Versions(6);
        var broadcast = new ModelBroadcast(versions[0], DownstreamMode.FedZip);
        float[] device = versions[0].Weights.ToArray(); // the first download is in full
        var decoded = new float[Layout.TotalLength];
        for (int v = 1; v < versions.Length; v++)
        {
            var served = broadcast.Publish(versions[v]);
            Assert.Same(served, broadcast.Current);
            Assert.Equal(versions[v].Version, served.Version);
            var change = Assert.IsType<ModelChange>(served.Change);
            Assert.Equal(new ModelVersion(v - 1), change.BaseVersion);
            Assert.Equal(PayloadCodec.FedZip, change.Codec);
            Assert.Equal(Crc32C.HashToUInt32(change.Payload.Span), change.Crc32C);

            UpdatePayload.CodecFor(change.Payload.Span).Decode(change.Payload.Span, Layout, decoded);
            TensorPrimitives.Add(device, decoded, device);
            Assert.Equal(served.Weights.ToArray(), device); // exact float equality, element by element
            var bytes = new byte[4 * device.Length];
            WeightBytes.Write(device, bytes);
            Assert.Equal(served.Crc32C, Crc32C.HashToUInt32(bytes));
            // The view trails the true model by what compression dropped, but follows it.
            Assert.NotEqual(versions[v].Weights.ToArray(), served.Weights.ToArray());
        }
    }

    [Fact]
    public void The_view_carries_what_compression_dropped_into_the_next_change()
    {
        var versions = Versions(2);
        var broadcast = new ModelBroadcast(versions[0], DownstreamMode.FedZip);
        var first = broadcast.Publish(versions[1]);
        // Publishing the same global model again sends the residual: the view moves closer to it.
        var again = broadcast.Publish(new GlobalModel(Layout, new ModelVersion(2), versions[1].Weights.Span));
        float before = Distance(first.Weights.Span, versions[1].Weights.Span);
        float after = Distance(again.Weights.Span, versions[1].Weights.Span);
        Assert.True(after < before, $"distance {after} after the second change, {before} before");
    }

    [Fact]
    public void Changes_are_much_smaller_than_full_weights_at_top_z_one_percent()
    {
        var versions = Versions(4);
        var broadcast = new ModelBroadcast(versions[0], DownstreamMode.FedZip, new FedZipOptions { TopZ = 0.01 });
        for (int v = 1; v < versions.Length; v++)
        {
            var served = broadcast.Publish(versions[v]);
            int full = served.Bytes.Length;
            int delta = served.Change!.Payload.Length;
            Assert.True(delta * 10 < full, $"version {v}: change {delta} bytes, full weights {full} bytes");
        }
    }

    [Fact]
    public void Full_mode_serves_the_global_model_itself_with_no_change()
    {
        var versions = Versions(3);
        var broadcast = new ModelBroadcast(versions[0], DownstreamMode.Full);
        Assert.Same(versions[0], broadcast.Current);
        for (int v = 1; v < versions.Length; v++)
        {
            var served = broadcast.Publish(versions[v]);
            Assert.Same(versions[v], served);
            Assert.Null(served.Change);
        }
    }

    [Fact]
    public void An_unchanged_model_is_served_with_an_empty_change_that_rebuilds_it()
    {
        var initial = Versions(1)[0];
        var broadcast = new ModelBroadcast(initial, DownstreamMode.FedZip);
        var served = broadcast.Publish(new GlobalModel(Layout, new ModelVersion(1), initial.Weights.Span));
        Assert.Equal(initial.Weights.ToArray(), served.Weights.ToArray());
        var decoded = new float[Layout.TotalLength];
        UpdatePayload.CodecFor(served.Change!.Payload.Span).Decode(served.Change.Payload.Span, Layout, decoded);
        Assert.All(decoded, d => Assert.Equal(0f, d));
    }

    [Fact]
    public void A_model_of_another_layout_is_refused()
    {
        var broadcast = new ModelBroadcast(Versions(1)[0], DownstreamMode.FedZip);
        var other = TensorLayout.Create([("w", new[] { 4 })]);
        Assert.Throws<ArgumentException>(() => broadcast.Publish(new GlobalModel(other, new ModelVersion(1), new float[4])));
    }

    private static float Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var difference = new float[a.Length];
        TensorPrimitives.Subtract(a, b, difference);
        return TensorPrimitives.Norm(difference);
    }
}
