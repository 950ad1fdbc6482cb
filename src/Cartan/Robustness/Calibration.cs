namespace Cartan.Robustness;

/// <summary>One equal-width confidence bin of a reliability diagram: (Lower, Upper], the first bin also holds 0.</summary>
public sealed record ReliabilityBin(double Lower, double Upper, int Count, double Confidence, double Accuracy);

/// <summary>Top-1 accuracy, NLL = −mean log p(y|x), ECE = Σ_b (|B_b|/N)·|acc(B_b) − conf(B_b)| and the bins.</summary>
public sealed record CalibrationResult(int Samples, double Accuracy, double Nll, double Ece, ReliabilityBin[] Bins);

/// <summary>
/// Calibration metrics of a classifier (Guo et al., ICML 2017; methods.md §4(d)). Prediction = first argmax,
/// confidence = its probability; sample with confidence c falls in bin b = ⌈c·M⌉ − 1 clamped to [0, M−1], i.e. the bins
/// are (b/M, (b+1)/M] with 0 in the first. Empty bins have Confidence = Accuracy = 0 and add nothing to the ECE.
/// </summary>
public static class Calibration
{
    /// <summary>The bin count of the GCh paper's ECE.</summary>
    public const int DefaultBins = 15;

    /// <summary>Metrics from logits (N×C row-major): log-softmax in float64 with the max subtracted.</summary>
    public static CalibrationResult FromLogits(ReadOnlySpan<float> logits, int samples, int classes, ReadOnlySpan<int> labels, int bins = DefaultBins)
    {
        Check(logits.Length, samples, classes, labels, bins);
        var logp = new double[logits.Length];
        for (int i = 0; i < samples; i++)
        {
            var row = logits.Slice(i * classes, classes);
            double max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double s = 0;
            foreach (var v in row) s += Math.Exp(v - max);
            double lse = max + Math.Log(s);
            for (int k = 0; k < classes; k++) logp[i * classes + k] = row[k] - lse;
        }
        return FromLogProbabilities(logp, samples, classes, labels, bins);
    }

    /// <summary>Metrics from probabilities (N×C row-major, rows summing to 1).</summary>
    public static CalibrationResult FromProbabilities(ReadOnlySpan<double> probabilities, int samples, int classes, ReadOnlySpan<int> labels, int bins = DefaultBins)
    {
        Check(probabilities.Length, samples, classes, labels, bins);
        var logp = new double[probabilities.Length];
        for (int i = 0; i < logp.Length; i++)
        {
            if (!(probabilities[i] >= 0 && probabilities[i] <= 1)) throw new ArgumentException($"probability {i} is {probabilities[i]}", nameof(probabilities));
            logp[i] = Math.Log(probabilities[i]);
        }
        return FromLogProbabilities(logp, samples, classes, labels, bins);
    }

    private static void Check(int length, int samples, int classes, ReadOnlySpan<int> labels, int bins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        if (length != checked(samples * classes)) throw new ArgumentException($"{length} values for {samples}×{classes}");
        if (labels.Length != samples) throw new ArgumentException($"{labels.Length} labels for {samples} samples", nameof(labels));
        foreach (var l in labels) if (l < 0 || l >= classes) throw new ArgumentException($"label {l} is outside 0..{classes - 1}", nameof(labels));
    }

    private static CalibrationResult FromLogProbabilities(double[] logp, int samples, int classes, ReadOnlySpan<int> labels, int bins)
    {
        var count = new int[bins];
        var conf = new double[bins];
        var hit = new double[bins];
        double nll = 0, correct = 0;
        for (int i = 0; i < samples; i++)
        {
            int arg = 0;
            for (int k = 1; k < classes; k++) if (logp[i * classes + k] > logp[i * classes + arg]) arg = k;
            double c = Math.Exp(logp[i * classes + arg]);
            bool ok = arg == labels[i];
            nll -= logp[i * classes + labels[i]];
            if (ok) correct++;
            int b = Math.Clamp((int)Math.Ceiling(c * bins) - 1, 0, bins - 1);
            count[b]++;
            conf[b] += c;
            if (ok) hit[b]++;
        }
        var result = new ReliabilityBin[bins];
        double ece = 0;
        for (int b = 0; b < bins; b++)
        {
            double mc = count[b] > 0 ? conf[b] / count[b] : 0, ma = count[b] > 0 ? hit[b] / count[b] : 0;
            result[b] = new ReliabilityBin((double)b / bins, (double)(b + 1) / bins, count[b], mc, ma);
            ece += (double)count[b] / samples * Math.Abs(ma - mc);
        }
        return new CalibrationResult(samples, correct / samples, nll / samples, ece, result);
    }
}
