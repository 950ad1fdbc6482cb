namespace Cartan.Report.Svg;

/// <summary>Sequential colour map (viridis-like stops), linear interpolation, input clamped to [0, 1]; NaN is grey.</summary>
public static class ColorMap
{
    private static readonly (byte R, byte G, byte B)[] Stops =
    [
        (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (110, 206, 88), (181, 222, 43), (253, 231, 37),
    ];

    public static readonly (byte R, byte G, byte B) Missing = (200, 200, 200);

    public static (byte R, byte G, byte B) At(double t)
    {
        if (double.IsNaN(t)) return Missing;
        t = Math.Clamp(t, 0, 1);
        double x = t * (Stops.Length - 1);
        int i = Math.Min(Stops.Length - 2, (int)Math.Floor(x));
        double f = x - i;
        var (a, b) = (Stops[i], Stops[i + 1]);
        return ((byte)Math.Round(a.R + f * (b.R - a.R)), (byte)Math.Round(a.G + f * (b.G - a.G)), (byte)Math.Round(a.B + f * (b.B - a.B)));
    }

    public static string Hex((byte R, byte G, byte B) c) => $"#{c.R:x2}{c.G:x2}{c.B:x2}";

    /// <summary>Position of v in [lo, hi] (log10 when <paramref name="log"/>), clamped; NaN for non-finite or non-positive-on-log.</summary>
    public static double Normalize(double v, double lo, double hi, bool log)
    {
        if (!double.IsFinite(v) || (log && v <= 0)) return double.NaN;
        if (log) { v = Math.Log10(v); lo = Math.Log10(lo); hi = Math.Log10(hi); }
        if (!(hi > lo)) return 0.5;
        return Math.Clamp((v - lo) / (hi - lo), 0, 1);
    }

    /// <summary>A palette of distinct line colours (Tableau 10).</summary>
    public static readonly string[] Lines =
        ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
}
