using Cartan.Torch.Lm;

namespace Cartan.Torch.Tests.Lm;

public class TrainerTests
{
    private static HfConfig Tiny(int vocab = 64) => LmTrainer.LlamaConfig(vocab, layers: 1, hidden: 32, heads: 4, kvHeads: 2, intermediate: 48, context: 16);

    private static int[] Stream(int n, int vocab)
    {
        // A learnable stream: a repeating pattern with some noise from a fixed LCG.
        var t = new int[n];
        uint s = 12345;
        for (int i = 0; i < n; i++)
        {
            s = s * 1664525 + 1013904223;
            t[i] = (s >> 28) == 0 ? (int)((s >> 8) % (uint)vocab) : (i * 7) % vocab;
        }
        return t;
    }

    private static double[][] Weights(HfModule m) => m.ExportWeights().Select(w => w.data).ToArray();

    private static readonly LmTrainOptions ThreeSteps = new() { Seed = 7, Steps = 3, Batch = 4, SeqLen = 16, Lr = 3e-3, Warmup = 1 };

    [Fact]
    public void SameSeedGivesBitIdenticalWeights()
    {
        var data = Stream(2000, 64);
        using var a = LmTrainer.Train(Tiny(), data, ThreeSteps);
        using var b = LmTrainer.Train(Tiny(), data, ThreeSteps);
        var wa = Weights(a);
        var wb = Weights(b);
        Assert.Equal(wa.Length, wb.Length);
        for (int i = 0; i < wa.Length; i++) Assert.Equal(wa[i], wb[i]); // exact equality, every element

        // And the steps did change the weights, and a different seed gives different ones (the check can fail).
        using var init = HfModels.Build(Tiny());
        init.InitializeRandom(7);
        Assert.NotEqual(Weights(init)[1], wa[1]);
        using var c = LmTrainer.Train(Tiny(), data, ThreeSteps with { Seed = 8 });
        Assert.NotEqual(wa[1], Weights(c)[1]);
    }

    [Fact]
    public void TrainingLowersTheLossOnALearnableStream()
    {
        var losses = new List<double>();
        using var m = LmTrainer.Train(Tiny(), Stream(4000, 64), ThreeSteps with { Steps = 60, Warmup = 5, Lr = 1e-2 },
            (_, loss, _, _) => losses.Add(loss));
        Assert.Equal(60, losses.Count);
        Assert.InRange(losses[0], Math.Log(64) - 0.2, Math.Log(64) + 0.2); // std-0.02 init: nearly uniform
        Assert.True(losses.TakeLast(5).Average() < 0.6 * losses[0], $"loss {losses[0]:F3} → {losses.TakeLast(5).Average():F3}");
    }

    [Fact]
    public void LearningRateWarmsUpLinearlyThenFollowsACosineToTheFloor()
    {
        var o = new LmTrainOptions { Steps = 11, Warmup = 2, Lr = 1.0, MinLrFraction = 0.1 };
        Assert.Equal(0.5, o.LrAt(0), 12);
        Assert.Equal(1.0, o.LrAt(1), 12);
        Assert.Equal(1.0, o.LrAt(2), 12);          // cosine starts at the peak
        Assert.Equal(0.55, o.LrAt(6), 12);         // halfway (step 6 of 2..10): 0.1 + 0.9 · 0.5
        Assert.Equal(0.1, o.LrAt(10), 12);         // last step: the floor
    }

    [Fact]
    public void UniformModelHasPerplexityEqualToTheVocabularyAndCountsPredictedTokens()
    {
        // All weights zero: every hidden state is 0, every logit 0, so p = 1/V for every token: ppl = V exactly.
        using var m = HfModels.Build(Tiny(50));
        var tokens = Stream(1000, 50);
        var (ppl, n) = Perplexity.Evaluate(m, tokens, 16, batch: 5);
        Assert.Equal(50.0, ppl, 9);
        // 1000 tokens in windows of 16: 62 full windows + one of 8; each predicts all but its first token.
        Assert.Equal(1000 - 63, n);
        var reports = new List<(long, long)>();
        Perplexity.Evaluate(m, tokens[..33], 16, new SyncProgress(reports.Add)); // windows 16, 16, 1 → the single-token window predicts nothing
        Assert.Equal((2L, 2L), reports[^1]);
    }

    [Fact]
    public void UnigramBaselineMatchesHandComputation()
    {
        // Train counts 0:2, 1:1, 2:0 with add-one over 3 entries: p = 3/6, 2/6, 1/6. Window 4 skips position 0.
        var (ppl, n) = Perplexity.Unigram([0, 0, 1], 3, [0, 1, 2, 0], 4);
        Assert.Equal(3, n);
        Assert.Equal(Math.Exp(-(Math.Log(2.0 / 6) + Math.Log(1.0 / 6) + Math.Log(3.0 / 6)) / 3), ppl, 12);
    }

    private sealed class SyncProgress(Action<(long, long)> f) : IProgress<(long Done, long Total)>
    {
        public void Report((long Done, long Total) value) => f(value);
    }
}
