using Cartan.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace Cartan.Torch.Tests;

/// <summary>Golden values written by Fixtures/reference/make_reference.py (python3-torch 1.13, float64).</summary>
internal sealed class Reference : IDisposable
{
    private readonly WeightModel _file;

    public Reference(string model)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "reference", model);
        Folder = Path.Combine(dir, "model");
        _file = WeightSource.Open(Path.Combine(dir, "reference.safetensors"));
    }

    /// <summary>The HF folder of the model (config.json + model.safetensors).</summary>
    public string Folder { get; }

    public long[] Shape(string name) => (_file.Find(name) ?? throw new KeyNotFoundException(name)).Shape;

    public double[] Doubles(string name) => (_file.Find(name) ?? throw new KeyNotFoundException(name)).ReadDoubles();

    public Tensor Long(string name) => tensor(Doubles(name).Select(d => (long)d).ToArray(), Shape(name), dtype: ScalarType.Int64);

    public Tensor Double(string name, ScalarType dtype) => tensor(Doubles(name), Shape(name), dtype: ScalarType.Float64).to(dtype);

    public void Dispose() => _file.Dispose();

    /// <summary>max |got − want| ≤ tol · max(max |want|, floor) (relative to the tensor's scale, or to
    /// <paramref name="floor"/> where the exact value is zero), with a message naming the worst entry.</summary>
    public static void Close(double[] want, Tensor got, double tol, string what, double floor = 0)
    {
        using var g = got.detach().to(ScalarType.Float64).contiguous();
        var a = g.data<double>().ToArray();
        Assert.Equal(want.Length, a.Length);
        double scale = Math.Max(want.Max(Math.Abs), floor);
        Assert.True(scale > 0, $"{what}: reference is all zero");
        double worst = 0; int at = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs(a[i] - want[i]);
            if (!(d <= worst)) { worst = d; at = i; }
        }
        Assert.True(worst <= tol * scale, $"{what}: max |diff| {worst:E3} at {at} (got {a[at]}, want {want[at]}) exceeds {tol} x {scale:E3}");
    }
}
