// Torch bench (not a test): forward and training throughput of the Cartan.Torch builders, as achieved GFLOP/s, against
// plain torch.matmul (float32) of the same shapes measured in the same process, once with libtorch's default thread
// count and once with 1 thread. Fixed seeds; warm-up iterations are excluded; every figure is a median.
// usage: dotnet bench/torch/bin/Release/net10.0/TorchBench.dll   (bench/torch/run.sh writes bench/results/torch-<date>.md)
// Markdown goes to stdout, progress to stderr.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Cartan.Torch;
using Cartan.Torch.Lm;
using TorchSharp;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
TorchRuntime.EnsureAvailable();

const long Seed = 20261126;
var wall = Stopwatch.StartNew();
string loadStart = LoadAvg();
int defaultThreads = torch.get_num_threads();

// ---- workloads -------------------------------------------------------------------------------------------------------

const int B = 8, T = 256;          // LM batch: 8 sequences × 256 tokens
const long M = (long)B * T;        // rows of every linear layer's input
const int Images = 512;            // MLP batch

var llamaCfg = LmTrainer.LlamaConfig(vocab: 4096, layers: 4, hidden: 256, heads: 8, kvHeads: 2, intermediate: 512, context: 256);
var gpt2Cfg = HfConfig.Parse(new JsonObject
{
    ["model_type"] = "gpt2", ["vocab_size"] = 4096, ["n_embd"] = 256, ["n_layer"] = 4, ["n_head"] = 8,
    ["n_inner"] = 1024, ["n_positions"] = 256, ["activation_function"] = "gelu_new", ["tie_word_embeddings"] = true,
}.ToJsonString(), "gpt2-bench-config.json");
var mlpCfg = HfConfig.Parse(new JsonObject
{
    ["model_type"] = "mlp", ["layer_sizes"] = new JsonArray(784, 512, 256, 10), ["hidden_act"] = "relu",
}.ToJsonString(), "mlp-bench-config.json");

var workloads = new List<Workload> { Llama(), Gpt2(), Mlp() };

// ---- header ----------------------------------------------------------------------------------------------------------

string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
Console.WriteLine($"# Torch bench — {DateTime.UtcNow:yyyy-MM-ddTHH:mmZ}");
Console.WriteLine();
Console.WriteLine($"* machine: {Environment.ProcessorCount} logical CPUs ({cpu}), **shared with other jobs while this ran** — absolute numbers are only this run's; the ratios are measured in the same process minutes apart");
Console.WriteLine($"* libtorch {torch.__version__} (TorchSharp-cpu), .NET {Environment.Version}, float32, process nice value {NiceValue()}");
Console.WriteLine($"* torch.get_num_threads() at start (the default): **{defaultThreads}**; every section below runs once with the default and once after torch.set_num_threads(1)");
Console.WriteLine($"* load average (1/5/15 min) at start: {loadStart}");
Console.WriteLine($"* seed {Seed} for weights (HfModule.InitializeRandom), inputs and the token stream; warm-up iterations excluded; medians (min–max in brackets)");
Console.WriteLine();
Console.WriteLine("FLOPs are counted analytically (see bench/README.md): a multiply-add is 2 FLOPs; training = forward + backward (2× forward: input and weight gradients) = 3× forward, except that the MLP's first layer needs no input gradient. Attention counts QKᵀ and AV over all T×T positions (the causal mask is applied, not skipped). Each model's FLOPs equal the sum over its matmul list below, checked at start-up.");
Console.WriteLine();
Console.WriteLine("**plain mix** = the same FLOPs spent in plain `torch.matmul` calls, one per matmul of the model in the model's operand layouts (forward shapes; for training also autograd's two backward products of each, dA = dC·Bᵀ [M×N]·[N×K] and dB = Aᵀ·dC [K×M]·[M×N]; ᵗ marks an operand that is a transposed view, e.g. a weight W [out, in] used as Wᵀ), each timed alone in this run: Σ FLOPs / Σ median time. **ratio** = achieved / plain mix = the fraction of the model's step time its matmuls would need on their own.");
Console.WriteLine();

foreach (var w in workloads)
{
    Console.WriteLine($"* **{w.Name}** ({w.Unit}s per iteration: {w.ItemsPerIter}): {w.Description}; forward {w.FwdFlops / w.ItemsPerIter / 1e6:F3} MFLOP/{w.Unit}, training {w.TrainFlops / w.ItemsPerIter / 1e6:F3} MFLOP/{w.Unit}; matmuls per iteration: {string.Join(", ", w.Matmuls.Select(m => $"{m.What} {m.S} ×{m.Count}"))}");
}
Console.WriteLine("* CNN: skipped — src/Cartan.Torch has no CNN/ResNet builder yet (HfModels.SupportedTypes: " + string.Join(", ", HfModels.SupportedTypes) + ").");
Console.WriteLine();

// ---- runs ------------------------------------------------------------------------------------------------------------

foreach (int threads in new[] { defaultThreads, 1 })
{
    torch.set_num_threads(threads);
    Progress($"threads {threads}: models");
    Console.WriteLine($"## {threads} thread{(threads == 1 ? "" : "s")} (torch.get_num_threads() = {torch.get_num_threads()}){(threads == defaultThreads ? ", the default" : "")}");
    Console.WriteLine();

    var results = new List<(Workload W, string Pass, double[] Secs)>();
    foreach (var w in workloads)
    {
        Progress($"  {w.Name} forward");
        results.Add((w, "forward", w.Forward()));
        Progress($"  {w.Name} training");
        results.Add((w, "training step", w.Train()));
    }

    Progress($"threads {threads}: plain matmuls");
    var plain = new Dictionary<MatShape, double[]>();
    double[] Plain(MatShape s)
    {
        if (!plain.TryGetValue(s, out var t)) plain[s] = t = TimeMatmul(s);
        return t;
    }
    // The four headline shapes of the LLaMA workload first, then everything else the mixes need.
    var headline = new[] { new MatShape(1, M, 256, 256, TransB: true), new MatShape(1, M, 256, 512, TransB: true), new MatShape(1, M, 512, 256, TransB: true), new MatShape(1, M, 256, 4096, TransB: true) };
    foreach (var s in headline) Plain(s);
    foreach (var w in workloads)
        foreach (var mm in w.Matmuls)
        {
            Plain(mm.S);
            if (mm.NeedsGradA) Plain(mm.S.GradA);
            Plain(mm.S.GradB);
        }

    Console.WriteLine($"| model | pass | median s / iter | throughput | GFLOP / iter | achieved GFLOP/s | plain mix GFLOP/s | ratio |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|");
    foreach (var (w, pass, secs) in results)
    {
        bool train = pass != "forward";
        double flops = train ? w.TrainFlops : w.FwdFlops;
        double med = Median(secs);
        double plainSecs = 0;
        foreach (var mm in w.Matmuls)
        {
            double t = Median(Plain(mm.S));
            if (train)
            {
                t += Median(Plain(mm.S.GradB));
                if (mm.NeedsGradA) t += Median(Plain(mm.S.GradA));
            }
            plainSecs += mm.Count * t;
        }
        double achieved = flops / med / 1e9, mix = flops / plainSecs / 1e9;
        Console.WriteLine($"| {w.Name} | {pass} | {med:F4} ({secs.Min():F4}–{secs.Max():F4}), n={secs.Length} | {w.ItemsPerIter / med:F0} {w.Unit}s/s | {flops / 1e9:F2} | {achieved:F1} | {mix:F1} | {achieved / mix:F2} |");
    }
    Console.WriteLine();
    Console.WriteLine("Plain `torch.matmul` (float32, `no_grad`; ᵗ = operand passed as a transposed view of a contiguous tensor, as the model passes it); each sample repeats the call until it lasts ≥ 20 ms; median of 7 samples after 2 warm-up calls. First four rows: the LLaMA workload's headline shapes ([B·T, d]×[d, d], [B·T, d]×[d, ff], [B·T, ff]×[ff, d], LM head [B·T, d]×[d, V]).");
    Console.WriteLine();
    Console.WriteLine("| shape (batch × [M×K]·[K×N]) | GFLOP | median ms | GFLOP/s |");
    Console.WriteLine("|---|---|---|---|");
    foreach (var s in headline.Concat(plain.Keys.Except(headline)))
    {
        double med = Median(plain[s]);
        Console.WriteLine($"| {s} | {s.Flops / 1e9:F4} | {med * 1e3:F3} | {s.Flops / med / 1e9:F1} |");
    }
    Console.WriteLine();
}

torch.set_num_threads(defaultThreads);
Console.WriteLine($"* load average (1/5/15 min) at end: {LoadAvg()}; whole run {wall.Elapsed.TotalSeconds:F0} s");
return 0;

// ---- workload builders ---------------------------------------------------------------------------------------------

Workload Llama()
{
    int d = 256, H = 8, KV = 2, hd = d / H, ff = 512, V = 4096, L = 4;
    var mms = new List<Mm>
    {
        new("q_proj", new(1, M, d, H * hd, TransB: true), L), new("k_proj, v_proj", new(1, M, d, KV * hd, TransB: true), 2 * L),
        new("o_proj", new(1, M, H * hd, d, TransB: true), L), new("gate_proj, up_proj", new(1, M, d, ff, TransB: true), 2 * L),
        new("down_proj", new(1, M, ff, d, TransB: true), L), new("lm_head (tied)", new(1, M, d, V, TransB: true), 1),
        new("QKᵀ", new((long)B * H, T, hd, T, TransB: true), L), new("AV", new((long)B * H, T, T, hd), L),
    };
    // Per token: 2 × matmul parameters + 4·T·(H·hd) per layer for QKᵀ and AV.
    double matmulParams = L * ((double)d * H * hd + 2.0 * d * KV * hd + (double)H * hd * d + 3.0 * d * ff) + (double)d * V;
    double fwd = M * (2 * matmulParams + L * 4.0 * T * H * hd);
    return new Workload("LLaMA-style", "token", M,
        $"LmTrainer.LlamaConfig(vocab 4096, 4 layers, hidden 256, 8 heads / 2 KV heads, SwiGLU 512, context 256), {matmulParams / 1e6:F3} M matmul parameters, batch {B}×{T}",
        mms, fwd, 3 * fwd, () => LmForward(llamaCfg, V), () => LmTrain(llamaCfg, V));
}

Workload Gpt2()
{
    int d = 256, H = 8, hd = d / H, inner = 1024, V = 4096, L = 4;
    var mms = new List<Mm>
    {
        new("c_attn", new(1, M, d, 3 * d), L), new("attn.c_proj", new(1, M, d, d), L),
        new("c_fc", new(1, M, d, inner), L), new("mlp.c_proj", new(1, M, inner, d), L),
        new("lm_head (tied wte)", new(1, M, d, V, TransB: true), 1),
        new("QKᵀ", new((long)B * H, T, hd, T, TransB: true), L), new("AV", new((long)B * H, T, T, hd), L),
    };
    double matmulParams = L * (4.0 * d * d + 2.0 * d * inner) + (double)d * V;
    double fwd = M * (2 * matmulParams + L * 4.0 * T * d);
    return new Workload("GPT-2-style", "token", M,
        $"gpt2 config (vocab 4096, 4 layers, n_embd 256, 8 heads, n_inner 1024, n_positions 256, tied head), {matmulParams / 1e6:F3} M matmul parameters, batch {B}×{T}",
        mms, fwd, 3 * fwd, () => LmForward(gpt2Cfg, V), () => LmTrain(gpt2Cfg, V));
}

Workload Mlp()
{
    int[] sizes = [784, 512, 256, 10];
    var mms = new List<Mm>();
    double perImage = 0;
    for (int i = 0; i + 1 < sizes.Length; i++)
    {
        mms.Add(new($"layers.{i}", new(1, Images, sizes[i], sizes[i + 1], TransB: true), 1, NeedsGradA: i > 0));
        perImage += 2.0 * sizes[i] * sizes[i + 1];
    }
    double fwd = Images * perImage;
    double train = 3 * fwd - Images * 2.0 * sizes[0] * sizes[1]; // no input gradient for the first layer
    return new Workload("MLP 784-512-256-10 (ReLU)", "image", Images,
        $"mlp config on 28×28 images flattened to 784, batch {Images}, cross-entropy over 10 classes",
        mms, fwd, train, MlpForward, MlpTrain);
}

// ---- timing --------------------------------------------------------------------------------------------------------

double[] LmForward(HfConfig cfg, int vocab)
{
    using var model = HfModels.Build(cfg);
    model.InitializeRandom(Seed);
    model.eval();
    using var g = new Generator((ulong)Seed + 1);
    using var ids = randint(0, vocab, [B, T], dtype: ScalarType.Int64, generator: g);
    return TimeIterations(warmup: 2, timed: 7, () =>
    {
        using var _ = no_grad();
        using var y = model.forward(ids);
    });
}

double[] LmTrain(HfConfig cfg, int vocab)
{
    const int warm = 2, timed = 5;
    using var model = HfModels.Build(cfg);
    model.InitializeRandom(Seed);
    var rng = new Random((int)Seed);
    var stream = new int[200_000];
    for (int i = 0; i < stream.Length; i++) stream[i] = rng.Next(vocab);
    var secs = new List<double>();
    // The project's own training loop: batch sampling, forward, cross-entropy, backward, gradient clipping, AdamW.
    LmTrainer.Train(model, stream, new LmTrainOptions { Seed = Seed, Steps = warm + timed, Batch = B, SeqLen = T, Warmup = 1 },
        (step, _, _, tps) => { if (step >= warm) secs.Add(B * (double)T / tps); });
    return [.. secs];
}

double[] MlpForward()
{
    using var model = HfModels.Build(mlpCfg);
    model.InitializeRandom(Seed);
    model.eval();
    using var g = new Generator((ulong)Seed + 2);
    using var x = randn([Images, 784], generator: g);
    return TimeIterations(warmup: 5, timed: 21, () =>
    {
        using var _ = no_grad();
        using var y = model.forward(x);
    });
}

double[] MlpTrain()
{
    using var model = HfModels.Build(mlpCfg);
    model.InitializeRandom(Seed);
    model.train();
    using var g = new Generator((ulong)Seed + 3);
    using var x = randn([Images, 784], generator: g);
    using var labels = randint(0, 10, [Images], dtype: ScalarType.Int64, generator: g);
    using var opt = optim.AdamW(model.Weights.Select(p => p.Param), 1e-3);
    return TimeIterations(warmup: 5, timed: 21, () =>
    {
        using var scope = NewDisposeScope();
        opt.zero_grad();
        var logits = model.forward(x);
        var loss = nn.functional.cross_entropy(logits, labels);
        loss.backward();
        opt.step();
        _ = loss.item<float>();
    });
}

static double[] TimeIterations(int warmup, int timed, Action step)
{
    for (int i = 0; i < warmup; i++) step();
    var secs = new double[timed];
    var sw = new Stopwatch();
    for (int i = 0; i < timed; i++)
    {
        sw.Restart();
        step();
        secs[i] = sw.Elapsed.TotalSeconds;
    }
    return secs;
}

static double[] TimeMatmul(MatShape s)
{
    using var _ = no_grad();
    using var g = new Generator((ulong)Seed + 10);
    Tensor Operand(long rows, long cols, bool transposed)
    {
        long[] shape = transposed ? [cols, rows] : [rows, cols];
        if (s.Batch > 1) shape = [s.Batch, .. shape];
        var t = randn(shape, generator: g);
        if (!transposed) return t;
        var v = t.transpose(-1, -2);
        t.Dispose();
        return v;
    }
    using var a = Operand(s.M, s.K, s.TransA);
    using var b = Operand(s.K, s.N, s.TransB);
    void Call() { using var c = matmul(a, b); }
    Call(); Call();
    var sw = Stopwatch.StartNew();
    Call();
    int reps = (int)Math.Clamp(Math.Ceiling(0.02 / Math.Max(sw.Elapsed.TotalSeconds, 1e-6)), 1, 10_000);
    var samples = new double[7];
    for (int i = 0; i < samples.Length; i++)
    {
        sw.Restart();
        for (int r = 0; r < reps; r++) Call();
        samples[i] = sw.Elapsed.TotalSeconds / reps;
    }
    return samples;
}

static double Median(double[] xs)
{
    var s = xs.OrderBy(v => v).ToArray();
    return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
}

static string LoadAvg() => string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

static string NiceValue()
{
    // /proc/self/stat: field 19 (1-based) is the nice value; fields after the ")" of the command name.
    var stat = File.ReadAllText("/proc/self/stat");
    var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return rest.Length > 16 ? rest[16] : "?";
}

static void Progress(string line) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}");

/// <summary>batch × [M×K]·[K×N]; <paramref name="TransA"/>: A is a transposed view of a contiguous [K, M] tensor;
/// <paramref name="TransB"/>: B is a transposed view of a contiguous [N, K] tensor (a weight W [out, in] used as Wᵀ).</summary>
readonly record struct MatShape(long Batch, long M, long K, long N, bool TransA = false, bool TransB = false)
{
    public double Flops => 2.0 * Batch * M * K * N;
    /// <summary>Autograd's dA = dC·Bᵀ: [M×N]·[N×K], dC contiguous; Bᵀ is contiguous exactly when B was a transposed view.</summary>
    public MatShape GradA => new(Batch, M, N, K, TransA: false, TransB: !TransB);
    /// <summary>Autograd's dB = Aᵀ·dC: [K×M]·[M×N], Aᵀ a transposed view of the contiguous forward input.</summary>
    public MatShape GradB => new(Batch, K, M, N, TransA: !TransA, TransB: false);
    public override string ToString() =>
        (Batch > 1 ? $"{Batch} × " : "") + $"[{M}×{K}]{(TransA ? "ᵗ" : "")}·[{K}×{N}]{(TransB ? "ᵗ" : "")}";
}

/// <summary>One matmul of a model's forward, <paramref name="Count"/> times per iteration.</summary>
sealed record Mm(string What, MatShape S, int Count, bool NeedsGradA = true);

sealed class Workload
{
    public Workload(string name, string unit, long itemsPerIter, string description, List<Mm> matmuls, double fwdFlops,
        double trainFlops, Func<double[]> forward, Func<double[]> train)
    {
        (Name, Unit, ItemsPerIter, Description, Matmuls, FwdFlops, TrainFlops, Forward, Train) =
            (name, unit, itemsPerIter, description, matmuls, fwdFlops, trainFlops, forward, train);
        // The analytic formula must equal the sum over the matmul list (what the plain mix times).
        double f = matmuls.Sum(m => m.Count * m.S.Flops);
        double t = matmuls.Sum(m => m.Count * m.S.Flops * (m.NeedsGradA ? 3 : 2));
        if (Math.Abs(f - fwdFlops) > 1e-9 * f || Math.Abs(t - trainFlops) > 1e-9 * t)
            throw new InvalidOperationException($"{name}: formula FLOPs {fwdFlops:E6}/{trainFlops:E6} differ from the matmul list {f:E6}/{t:E6}");
    }

    public string Name { get; }
    public string Unit { get; }
    public long ItemsPerIter { get; }
    public string Description { get; }
    public List<Mm> Matmuls { get; }
    public double FwdFlops { get; }
    public double TrainFlops { get; }
    public Func<double[]> Forward { get; }
    public Func<double[]> Train { get; }
}
