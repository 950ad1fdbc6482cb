using Cartan.Noise;
using Cartan.Torch.Noise;
using static TorchSharp.torch;

namespace Cartan.Torch.Tests;

public class DropBlockTests
{
    [Fact]
    public void GammaIsThePapersSeedRateForNonSquareMaps()
    {
        using var db = new DropBlockModule(3, 0.9, 1);
        Assert.Equal(0.1 / 9 * 49 / 25, db.Gamma(7, 7), 15);
        Assert.Equal(0.1 / 9 * (6.0 * 10) / (4 * 8), db.Gamma(6, 10), 15);
        Assert.Equal(0.1 / 4 * 4 / 1, db.Gamma(2, 2), 15); // bs clipped to 2: one valid corner
    }

    [Fact]
    public void SiteSurvivalMatchesTheClosedForm()
    {
        // a site covered by n_r·n_c valid corners survives with probability (1 − γ)^(n_r·n_c)
        int h = 7, w = 6, bs = 3, n = 20000;
        using var db = new DropBlockModule(bs, 0.8, 123);
        var m = new float[n * h * w];
        db.SampleMasks(m, n, h, w);
        double g = db.Gamma(h, w);
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                int nr = Math.Min(r, h - bs) - Math.Max(0, r - bs + 1) + 1, nc = Math.Min(c, w - bs) - Math.Max(0, c - bs + 1) + 1;
                double p = Math.Pow(1 - g, nr * nc);
                double kept = 0;
                for (int i = 0; i < n; i++) kept += m[i * h * w + r * w + c];
                double se = Math.Sqrt(p * (1 - p) / n);
                Assert.True(Math.Abs(kept / n - p) < 4 * se, $"site ({r},{c}): kept {kept / n:F4}, expected {p:F4} ± {se:F4}");
            }
    }

    [Fact]
    public void DroppedSitesAreUnionsOfWholeBlocks()
    {
        int h = 9, w = 8, bs = 3, n = 500;
        using var db = new DropBlockModule(bs, 0.7, 9);
        var m = new float[n * h * w];
        db.SampleMasks(m, n, h, w);
        int dropped = 0;
        for (int k = 0; k < n; k++)
        {
            var one = m.AsSpan(k * h * w, h * w).ToArray();
            bool Zero(int i, int j)
            {
                for (int r = i; r < i + bs; r++) for (int c = j; c < j + bs; c++) if (one[r * w + c] != 0) return false;
                return true;
            }
            for (int r = 0; r < h; r++)
                for (int c = 0; c < w; c++)
                {
                    Assert.True(one[r * w + c] is 0f or 1f);
                    if (one[r * w + c] != 0) continue;
                    dropped++;
                    bool covered = false;
                    for (int i = Math.Max(0, r - bs + 1); i <= Math.Min(r, h - bs) && !covered; i++)
                        for (int j = Math.Max(0, c - bs + 1); j <= Math.Min(c, w - bs) && !covered; j++)
                            covered = Zero(i, j);
                    Assert.True(covered, $"mask {k}: dropped site ({r},{c}) lies in no fully dropped {bs}×{bs} block");
                }
        }
        Assert.True(dropped > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ForwardRescalesByCountOverOnesAndUsesTheSeededMasks(bool shared)
    {
        int b = 4, c = 3, h = 7, w = 7;
        using var db = new DropBlockModule(3, 0.8, 77, shared);
        db.train();
        using var x = rand(b, c, h, w) + 0.5f;
        using var y = db.forward(x);
        using var twin = new DropBlockModule(3, 0.8, 77, shared);
        int maps = shared ? b : b * c;
        var m = new float[maps * h * w];
        twin.SampleMasks(m, maps, h, w);
        double scale = m.Length / (double)m.Sum();
        var xs = x.data<float>().ToArray();
        var ys = y.data<float>().ToArray();
        for (int i = 0; i < b; i++)
            for (int ch = 0; ch < c; ch++)
                for (int t = 0; t < h * w; t++)
                {
                    int k = (i * c + ch) * h * w + t;
                    float mk = m[(shared ? i : i * c + ch) * h * w + t];
                    Assert.Equal(xs[k] * mk * scale, ys[k], 1e-5 * Math.Abs(ys[k]) + 1e-7);
                }
        // on an all-ones input the rescaled output sums to the input's sum when masks are per channel
        if (!shared)
        {
            using var ones_ = ones(b, c, h, w);
            using var yo = db.forward(ones_);
            Assert.Equal(b * c * h * w, yo.sum().item<float>(), 1e-2);
        }
    }

    [Fact]
    public void EvalAndKeepOneAreTheIdentityAndTheGradientIsTheScaledMask()
    {
        using var db = new DropBlockModule(3, 0.8, 5);
        db.eval();
        using var x = randn(2, 3, 7, 7);
        using var y = db.forward(x);
        Assert.Equal(x.data<float>().ToArray(), y.data<float>().ToArray());
        using var keep = new DropBlockModule(3, 1.0, 5);
        keep.train();
        using var y1 = keep.forward(x);
        Assert.Equal(x.data<float>().ToArray(), y1.data<float>().ToArray());

        db.train();
        using var xg = ones(new long[] { 2, 3, 7, 7 }, requires_grad: true);
        using var out_ = db.forward(xg);
        using var loss = out_.sum();
        loss.backward();
        Assert.Equal(out_.data<float>().ToArray(), xg.grad!.data<float>().ToArray()); // input ones: y = mask·scale = ∂y/∂x
    }
}

public class CorrelatedNoiseTests
{
    [Fact]
    public void FieldsHaveZeroMeanTheGreenCovarianceAndZeroRing()
    {
        var opt = new GChOptions { Strength = 0.8 };
        using var m = new CorrelatedNoiseModule(opt, 4);
        int h = 7, w = 7, n = 40000;
        var f = new float[n * h * w];
        m.SampleFields(f, n, h, w);
        var grid = new DirichletGrid(h, w);
        double s2 = opt.Strength * opt.Strength;
        for (int t = 0; t < h * w; t++)
        {
            int r = t / w, c = t % w;
            double mean = 0, sq = 0;
            for (int i = 0; i < n; i++) { double v = f[i * h * w + t]; mean += v; sq += v * v; }
            mean /= n;
            double var = sq / n - mean * mean;
            if (!grid.IsInterior(r, c)) { Assert.Equal(0, sq); continue; }
            double want = s2 * grid.GreenAtGrid(r, c, r, c);
            Assert.True(Math.Abs(mean) < 4 * Math.Sqrt(want / n), $"site {t}: mean {mean}");
            Assert.True(Math.Abs(var - want) < 4 * want * Math.Sqrt(2.0 / n), $"site {t}: variance {var}, expected {want}");
        }
        // one off-diagonal covariance: centre and its right neighbour
        int a = 3 * w + 3, b = 3 * w + 4;
        double cov = 0;
        for (int i = 0; i < n; i++) cov += (double)f[i * h * w + a] * f[i * h * w + b];
        cov /= n;
        double wantCov = s2 * grid.GreenAtGrid(3, 3, 3, 4), va = s2 * grid.GreenAtGrid(3, 3, 3, 3), vb = s2 * grid.GreenAtGrid(3, 4, 3, 4);
        Assert.True(Math.Abs(cov - wantCov) < 4 * Math.Sqrt((va * vb + wantCov * wantCov) / n), $"covariance {cov}, expected {wantCov}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ForwardAddsTheSeededFieldScaledByTheSampleRms(bool relative)
    {
        var opt = new GChOptions { Strength = 1.2, Boundary = GChBoundary.Ghost };
        int b = 3, c = 4, h = 6, w = 5;
        using var m = new CorrelatedNoiseModule(opt, 21, relative);
        m.train();
        using var twin = new CorrelatedNoiseModule(opt, 21, relative);
        for (int step = 0; step < 2; step++)
        {
            using var x = randn(b, c, h, w, dtype: ScalarType.Float64);
            using var y = m.forward(x);
            var f = new float[b * h * w];
            twin.SampleFields(f, b, h, w);
            var xs = x.data<double>().ToArray();
            var ys = y.data<double>().ToArray();
            for (int i = 0; i < b; i++)
            {
                double rms = relative ? Math.Sqrt(xs.AsSpan(i * c * h * w, c * h * w).ToArray().Average(v => v * v)) : 1;
                for (int ch = 0; ch < c; ch++)
                    for (int t = 0; t < h * w; t++)
                    {
                        int k = (i * c + ch) * h * w + t;
                        Assert.Equal(xs[k] + rms * f[i * h * w + t], ys[k], 1e-9);
                    }
            }
        }
    }

    [Fact]
    public void EvalIsTheIdentityAndTheGradientIsOne()
    {
        using var m = new CorrelatedNoiseModule(new GChOptions { Strength = 1.5 }, 1);
        m.eval();
        using var x = randn(2, 3, 7, 7);
        using var y = m.forward(x);
        Assert.Equal(x.data<float>().ToArray(), y.data<float>().ToArray());
        m.train();
        using var xg = randn(new long[] { 2, 3, 7, 7 }, requires_grad: true);
        using var out_ = m.forward(xg);
        Assert.NotEqual(xg.data<float>().ToArray(), out_.data<float>().ToArray());
        using var loss = out_.sum();
        loss.backward();
        Assert.All(xg.grad!.data<float>().ToArray(), v => Assert.Equal(1f, v));
    }
}
