using System.Globalization;

namespace Cartan.Report.Svg;

/// <summary>
/// A one-dimensional axis map from data to pixels, linear or base-10 logarithmic, with "nice" ticks.
/// Non-finite input (and non-positive input on a log scale) maps to NaN so callers can skip it.
/// </summary>
public sealed class Scale
{
    public double Lo { get; }
    public double Hi { get; }
    public double R0 { get; }
    public double R1 { get; }
    public bool Log { get; }

    private Scale(double lo, double hi, double r0, double r1, bool log) { Lo = lo; Hi = hi; R0 = r0; R1 = r1; Log = log; }

    /// <summary>A scale covering the finite (and, for log, positive) values; domains are widened to nice bounds.</summary>
    public static Scale For(IEnumerable<double> values, double r0, double r1, bool log, bool includeZero = false)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var v in values)
        {
            if (!double.IsFinite(v) || (log && v <= 0)) continue;
            lo = Math.Min(lo, v); hi = Math.Max(hi, v);
        }
        if (log)
        {
            if (!double.IsFinite(lo)) { lo = 1; hi = 10; }
            double a = Math.Floor(Math.Log10(lo) + 1e-9), b = Math.Ceiling(Math.Log10(hi) - 1e-9);
            if (b <= a) b = a + 1;
            return new Scale(Math.Pow(10, a), Math.Pow(10, b), r0, r1, true);
        }
        if (!double.IsFinite(lo)) { lo = 0; hi = 1; }
        if (includeZero) { lo = Math.Min(lo, 0); hi = Math.Max(hi, 0); }
        if (hi - lo <= Math.Abs(hi) * 1e-12) { double pad = lo == 0 ? 1 : Math.Abs(lo) * 0.1; lo -= pad; hi += pad; }
        double step = NiceStep((hi - lo) / 5);
        return new Scale(Math.Floor(lo / step + 1e-9) * step, Math.Ceiling(hi / step - 1e-9) * step, r0, r1, false);
    }

    public static Scale Linear(double lo, double hi, double r0, double r1) =>
        hi > lo && double.IsFinite(lo) && double.IsFinite(hi) ? new(lo, hi, r0, r1, false) : throw new ArgumentException("bad linear domain");

    public static Scale Logarithmic(double lo, double hi, double r0, double r1) =>
        lo > 0 && hi > lo && double.IsFinite(hi) ? new(lo, hi, r0, r1, true) : throw new ArgumentException("bad log domain");

    /// <summary>Pixel position of v, or NaN when v cannot be shown. Values outside the domain extrapolate.</summary>
    public double Map(double v)
    {
        if (!double.IsFinite(v)) return double.NaN;
        double t;
        if (Log)
        {
            if (v <= 0) return double.NaN;
            t = (Math.Log10(v) - Math.Log10(Lo)) / (Math.Log10(Hi) - Math.Log10(Lo));
        }
        else t = (v - Lo) / (Hi - Lo);
        return R0 + t * (R1 - R0);
    }

    /// <summary>1, 2 or 5 times a power of ten, at least <paramref name="raw"/>.</summary>
    public static double NiceStep(double raw)
    {
        if (!(raw > 0) || !double.IsFinite(raw)) return 1;
        double p = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double f = raw / p;
        return (f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10) * p;
    }

    /// <summary>Tick positions inside the domain: multiples of a nice step, or powers of ten (with 2 and 5 when few decades).</summary>
    public double[] Ticks(int target = 5)
    {
        var t = new List<double>();
        if (Log)
        {
            int a = (int)Math.Ceiling(Math.Log10(Lo) - 1e-9), b = (int)Math.Floor(Math.Log10(Hi) + 1e-9);
            int decades = b - a;
            int every = Math.Max(1, (int)Math.Ceiling(decades / (double)Math.Max(1, target + 2)));
            for (int k = a; k <= b; k += every) t.Add(Math.Pow(10, k));
            if (decades <= 1)
                foreach (var k in Enumerable.Range(a - 1, decades + 2))
                    foreach (var m in new[] { 2.0, 5.0 })
                    {
                        double v = m * Math.Pow(10, k);
                        if (v >= Lo * (1 - 1e-9) && v <= Hi * (1 + 1e-9)) t.Add(v);
                    }
            t.Sort();
            return [.. t];
        }
        double step = NiceStep((Hi - Lo) / Math.Max(1, target));
        for (double v = Math.Ceiling(Lo / step - 1e-9) * step; v <= Hi + step * 1e-9; v += step)
            t.Add(Math.Abs(v) < step * 1e-9 ? 0 : v);
        return [.. t];
    }

    /// <summary>Short tick label.</summary>
    public static string Label(double v)
    {
        if (v == 0) return "0";
        double a = Math.Abs(v);
        if (a >= 1e-3 && a < 1e5) return v.ToString("G4", CultureInfo.InvariantCulture);
        int e = (int)Math.Floor(Math.Log10(a));
        double m = v / Math.Pow(10, e);
        return Math.Abs(Math.Abs(m) - 1) < 1e-9 ? (m < 0 ? "-" : "") + "1e" + e : m.ToString("0.#", CultureInfo.InvariantCulture) + "e" + e;
    }
}
