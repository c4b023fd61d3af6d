using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Core.Tests.Codec;

public class ErrorFeedbackTests
{
    private static readonly TensorLayout Layout = TensorLayout.Create([("w", [20, 30]), ("b", [20])]);
    private static readonly FedZipCodec Codec = new(new FedZipOptions { TopZ = 0.05, Clusters = 3, DenseThreshold = 64 });

    [Fact]
    public void Encode_ResidualBecomesCorrectedDeltaMinusDecoded()
    {
        var feedback = new ErrorFeedback(Codec, Layout);
        var decoded = new float[Layout.TotalLength];
        for (int round = 0; round < 5; round++)
        {
            float[] delta = CodecCases.Values(Layout.TotalLength, round);
            float[] before = feedback.Residual.ToArray();
            byte[] payload = feedback.Encode(delta);
            Codec.Decode(payload, Layout, decoded);

            var expected = new float[delta.Length];
            for (int i = 0; i < delta.Length; i++) expected[i] = (delta[i] + before[i]) - decoded[i];
            FedZipCodecTests.AssertBitEqual(expected, feedback.Residual);
        }
    }

    [Fact]
    public void Encode_OverRounds_SentPlusResidualEqualsEverythingTrained()
    {
        var feedback = new ErrorFeedback(Codec, Layout);
        var sent = new double[Layout.TotalLength];
        var trained = new double[Layout.TotalLength];
        var decoded = new float[Layout.TotalLength];
        for (int round = 0; round < 20; round++)
        {
            float[] delta = CodecCases.Values(Layout.TotalLength, 100 + round);
            Codec.Decode(feedback.Encode(delta), Layout, decoded);
            for (int i = 0; i < delta.Length; i++) { trained[i] += delta[i]; sent[i] += decoded[i]; }
        }
        for (int i = 0; i < trained.Length; i++)
            Assert.Equal(trained[i], sent[i] + feedback.Residual[i], 1e-4);
    }

    [Fact]
    public void Encode_Disabled_PassesThroughAndKeepsResidualZero()
    {
        var feedback = new ErrorFeedback(Codec, Layout, enabled: false);
        float[] delta = CodecCases.Values(Layout.TotalLength, 9);
        Assert.Equal(Codec.Encode(delta, Layout), feedback.Encode(delta));
        Assert.Equal(Codec.Encode(delta, Layout), feedback.Encode(delta));
        Assert.All(feedback.Residual.ToArray(), r => Assert.Equal(0f, r));
    }

    [Fact]
    public void TryEncode_DestinationTooSmall_LeavesResidualUnchanged()
    {
        var feedback = new ErrorFeedback(Codec, Layout);
        feedback.Encode(CodecCases.Values(Layout.TotalLength, 1));
        float[] before = feedback.Residual.ToArray();

        Assert.False(feedback.TryEncode(CodecCases.Values(Layout.TotalLength, 2), new byte[10], out int written));

        Assert.Equal(0, written);
        Assert.Equal(before, feedback.Residual.ToArray());
    }

    [Fact]
    public void Reset_ClearsTheResidual()
    {
        var feedback = new ErrorFeedback(Codec, Layout);
        feedback.Encode(CodecCases.Values(Layout.TotalLength, 1));
        Assert.Contains(feedback.Residual.ToArray(), r => r != 0);
        feedback.Reset();
        Assert.All(feedback.Residual.ToArray(), r => Assert.Equal(0f, r));
    }

    [Fact]
    public void Encode_DenseTensorsLeaveNoResidual()
    {
        var feedback = new ErrorFeedback(Codec, Layout);
        feedback.Encode(CodecCases.Values(Layout.TotalLength, 4));
        var bias = Layout.Tensors[1];
        Assert.All(feedback.Residual.Slice(bias.Offset, bias.Length).ToArray(), r => Assert.Equal(0f, r));
    }

    [Fact]
    public void For_FollowsTheOption()
    {
        Assert.True(ErrorFeedback.For(Codec, Layout).Enabled);
        var off = new FedZipCodec(FedZipOptions.Default with { ErrorFeedback = false });
        Assert.False(ErrorFeedback.For(off, Layout).Enabled);
    }
}
