using static TorchSharp.torch;

namespace Cartan.Torch.Lm;

/// <summary>
/// Perplexity of a causal LM over a token stream cut into non-overlapping windows: window k holds tokens
/// [k·W, (k+1)·W) (the last one may be shorter); inside a window, every token after the first is predicted from the
/// tokens before it in that window. The result is exp(mean negative log-likelihood) over all predicted tokens, and
/// their number.
/// </summary>
public static class Perplexity
{
    /// <summary>Evaluates <paramref name="model"/> (logits [B, T, vocab] from ids [B, T]) on <paramref name="tokens"/>.
    /// <paramref name="progress"/> gets (windows done, windows total). <paramref name="batch"/> windows run at once.
    /// Runs without gradients and puts the model in eval mode.</summary>
    public static (double Ppl, long Tokens) Evaluate(HfModule model, int[] tokens, int window,
        IProgress<(long Done, long Total)>? progress = null, int batch = 8)
    {
        var (nll, n) = NegLogLikelihood(model, tokens, window, progress, batch);
        return (Math.Exp(nll / n), n);
    }

    /// <summary>Sum of −log p over the predicted tokens (float64 accumulation) and their number.</summary>
    public static (double Nll, long Tokens) NegLogLikelihood(HfModule model, int[] tokens, int window,
        IProgress<(long Done, long Total)>? progress = null, int batch = 8)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (window < 2) throw new ArgumentOutOfRangeException(nameof(window), "a window needs at least 2 tokens");
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch));
        if (tokens.Length < 2) throw new ArgumentException("perplexity needs at least 2 tokens", nameof(tokens));
        long windows = (tokens.Length - 2L) / window + 1; // a last window of a single token predicts nothing
        model.eval();
        using var _ = no_grad();
        double nll = 0;
        long count = 0;
        for (long w0 = 0; w0 < windows; w0 += batch)
        {
            using var scope = NewDisposeScope();
            // Full-length windows go together; the one short last window (if any) runs on its own.
            var group = new List<int[]>();
            for (long w = w0; w < Math.Min(windows, w0 + batch); w++)
            {
                long start = w * window;
                int len = (int)Math.Min(window, tokens.Length - start);
                group.Add(tokens.AsSpan((int)start, len).ToArray());
            }
            foreach (var same in group.GroupBy(g => g.Length))
            {
                int len = same.Key;
                var rows = same.ToArray();
                var ids = new long[rows.Length * len];
                for (int r = 0; r < rows.Length; r++) for (int t = 0; t < len; t++) ids[r * len + t] = rows[r][t];
                var x = tensor(ids, [rows.Length, len], dtype: ScalarType.Int64);
                var logits = model.forward(x.narrow(1, 0, len - 1));
                var logp = logits.to(ScalarType.Float64).log_softmax(-1);
                var target = x.narrow(1, 1, len - 1).unsqueeze(-1);
                var picked = logp.gather(-1, target);
                nll -= picked.sum().item<double>();
                count += (long)rows.Length * (len - 1);
            }
            progress?.Report((Math.Min(windows, w0 + batch), windows));
        }
        return (nll, count);
    }

    /// <summary>The unigram baseline: each token predicted with its add-one-smoothed frequency in
    /// <paramref name="trainTokens"/>, over the same predicted positions as <see cref="Evaluate"/>
    /// (every token except the first of each window).</summary>
    public static (double Ppl, long Tokens) Unigram(int[] trainTokens, int vocabSize, int[] tokens, int window)
    {
        var counts = new long[vocabSize];
        foreach (int t in trainTokens) counts[t]++;
        double total = trainTokens.Length + (double)vocabSize;
        double nll = 0;
        long n = 0;
        for (int i = 0; i < tokens.Length; i++)
        {
            if (i % window == 0) continue;
            nll -= Math.Log((counts[tokens[i]] + 1) / total);
            n++;
        }
        return (Math.Exp(nll / n), n);
    }
}
