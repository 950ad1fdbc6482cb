using System.Diagnostics;
using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cartan.Torch.Lm;

/// <summary>Hyper-parameters of <c>LmTrainer.Train</c>.</summary>
public sealed record LmTrainOptions
{
    public long Seed { get; init; }
    public int Steps { get; init; } = 1000;
    public int Batch { get; init; } = 16;
    public int SeqLen { get; init; } = 256;
    /// <summary>Peak learning rate, reached after <see cref="Warmup"/> linear steps, then cosine down to
    /// <see cref="MinLrFraction"/> × peak at the last step.</summary>
    public double Lr { get; init; } = 1e-3;
    public int Warmup { get; init; } = 100;
    public double MinLrFraction { get; init; } = 0.1;
    /// <summary>AdamW decoupled weight decay on matrices (not on norm scales).</summary>
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Global gradient-norm clip.</summary>
    public double Clip { get; init; } = 1.0;

    /// <summary>The learning rate at 0-based <paramref name="step"/>.</summary>
    public double LrAt(int step)
    {
        if (step < Warmup) return Lr * (step + 1) / Warmup;
        double progress = Steps <= Warmup + 1 ? 1 : (double)(step - Warmup) / (Steps - Warmup - 1);
        double cos = 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(progress, 0, 1)));
        return Lr * (MinLrFraction + (1 - MinLrFraction) * cos);
    }
}

/// <summary>
/// Trains a causal LM (any <see cref="HfModule"/> mapping ids [B, T] to logits [B, T, V]) on one token stream:
/// each step draws <c>Batch</c> random offsets (SplitMix64 from the seed), predicts tokens [o+1, o+T] from
/// [o, o+T), cross-entropy, AdamW, warmup + cosine, gradient clipping. Weights start from
/// <see cref="HfModule.InitializeRandom"/>(seed). With the same seed, data and thread count the weights come out
/// bit-for-bit identical.
/// </summary>
public static class LmTrainer
{
    /// <summary>A LLaMA-style config (tied embeddings, SwiGLU, RMSNorm, RoPE, GQA) for the tiny LM.</summary>
    public static HfConfig LlamaConfig(int vocab, int layers = 4, int hidden = 256, int heads = 8, int kvHeads = 2,
        int intermediate = 768, int context = 256)
    {
        var o = new JsonObject
        {
            ["model_type"] = "llama",
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["vocab_size"] = vocab,
            ["hidden_size"] = hidden,
            ["intermediate_size"] = intermediate,
            ["num_hidden_layers"] = layers,
            ["num_attention_heads"] = heads,
            ["num_key_value_heads"] = kvHeads,
            ["head_dim"] = hidden / heads,
            ["max_position_embeddings"] = context,
            ["rms_norm_eps"] = 1e-5,
            ["rope_theta"] = 10000.0,
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = true,
            ["attention_bias"] = false,
            ["mlp_bias"] = false,
            ["torch_dtype"] = "float32",
        };
        return HfConfig.Parse(o.ToJsonString(), "config.json");
    }

    /// <summary>One line per step: (0-based step, loss, learning rate, tokens/s of that step).</summary>
    public delegate void StepLog(int step, double loss, double lr, double tokensPerSecond);

    /// <summary>Builds the model for <paramref name="config"/>, initialises it from the seed and trains it.</summary>
    public static HfModule Train(HfConfig config, int[] tokens, LmTrainOptions o, StepLog? log = null)
    {
        var model = HfModels.Build(config);
        try
        {
            model.InitializeRandom(o.Seed);
            Train(model, tokens, o, log);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Trains <paramref name="model"/> in place from its current weights.</summary>
    public static void Train(HfModule model, int[] tokens, LmTrainOptions o, StepLog? log = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (o.Steps < 1 || o.Batch < 1 || o.SeqLen < 2 || o.Warmup < 0 || !(o.Lr > 0))
            throw new ArgumentException("steps, batch, warmup must be positive, seqlen ≥ 2, lr > 0");
        if (tokens.Length < o.SeqLen + 2) throw new ArgumentException($"the training stream has {tokens.Length} tokens, fewer than seqlen + 2");
        var decay = model.Weights.Where(w => w.Param.dim() >= 2).Select(w => w.Param).ToList();
        var noDecay = model.Weights.Where(w => w.Param.dim() < 2).Select(w => w.Param).ToList();
        var groups = new List<AdamW.ParamGroup>
        {
            new(decay, new AdamW.Options { LearningRate = o.Lr, beta1 = o.Beta1, beta2 = o.Beta2, weight_decay = o.WeightDecay }),
            new(noDecay, new AdamW.Options { LearningRate = o.Lr, beta1 = o.Beta1, beta2 = o.Beta2, weight_decay = 0 }),
        };
        using var opt = optim.AdamW(groups, o.Lr, o.Beta1, o.Beta2, 1e-8, o.WeightDecay);
        var all = model.Weights.Select(w => w.Param).ToList();
        var rng = new SplitMix64((ulong)o.Seed ^ 0x9E3779B97F4A7C15UL);
        long range = tokens.Length - o.SeqLen - 1; // offsets 0..range inclusive
        var x = new long[o.Batch * o.SeqLen];
        var y = new long[o.Batch * o.SeqLen];
        model.train();
        var sw = new Stopwatch();
        for (int step = 0; step < o.Steps; step++)
        {
            sw.Restart();
            for (int b = 0; b < o.Batch; b++)
            {
                long off = (long)(rng.Next() % (ulong)(range + 1));
                for (int t = 0; t < o.SeqLen; t++)
                {
                    x[b * o.SeqLen + t] = tokens[off + t];
                    y[b * o.SeqLen + t] = tokens[off + t + 1];
                }
            }
            double lr = o.LrAt(step);
            foreach (var g in opt.ParamGroups) g.LearningRate = lr;
            double lossValue;
            using (var scope = NewDisposeScope())
            {
                var xt = tensor(x, [o.Batch, o.SeqLen], dtype: ScalarType.Int64);
                var yt = tensor(y, [o.Batch * o.SeqLen], dtype: ScalarType.Int64);
                opt.zero_grad();
                var logits = model.forward(xt);
                var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), yt);
                loss.backward();
                nn.utils.clip_grad_norm_(all, o.Clip);
                opt.step();
                lossValue = loss.item<float>();
            }
            if (!double.IsFinite(lossValue)) throw new InvalidOperationException($"the loss became {lossValue} at step {step}");
            log?.Invoke(step, lossValue, lr, o.Batch * (double)o.SeqLen / Math.Max(sw.Elapsed.TotalSeconds, 1e-9));
        }
        model.eval();
    }

    /// <summary>SplitMix64: a tiny, fully specified generator, so batches do not depend on the runtime's Random.</summary>
    internal struct SplitMix64(ulong seed)
    {
        private ulong _s = seed;

        public ulong Next()
        {
            ulong z = _s += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
