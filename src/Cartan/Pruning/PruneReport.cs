using System.Text.Json;

namespace Cartan.Pruning;

/// <summary>The <c>prune.json</c> of a pruning run (schema <c>cartan.prune/1</c>).</summary>
public static class PruneReport
{
    /// <summary>Bins of the EC ratio histograms over [r_lo, r_hi].</summary>
    public const int HistogramBins = 10;

    /// <summary>The report as indented JSON. <paramref name="sequentialWithinBlock"/>: a calibrated run pruned the layer groups
    /// of each block in forward order (<c>--sequential</c>), written as <c>settings.sequential_within_block</c>.</summary>
    public static string ToJson(ModelPruneResult run, PruneSettings settings, string source, double totalSeconds, string calibration,
        bool sequentialWithinBlock = false)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("schema", "cartan.prune/1");
            w.WriteString("source", source);
            w.WriteStartObject("settings");
            w.WriteString("method", PruneSettings.MethodName(settings.Method));
            w.WriteString("pattern", settings.Pattern.IsNM ? $"{settings.Pattern.N}:{settings.Pattern.M}" : "unstructured");
            w.WriteNumber("sparsity", settings.Pattern.Nominal);
            w.WriteString("comparison", settings.PerLayer ? "per_layer" : settings.Method == PruneMethod.SparseGpt && !settings.Pattern.IsNM ? "per_block" : "per_row");
            w.WriteString("tie_rule", "lower index kept");
            w.WriteString("calibration", calibration);
            w.WriteBoolean("sequential_within_block", sequentialWithinBlock);
            w.WriteStartObject("cvr");
            w.WriteNumber("alpha", settings.Cvr.Alpha);
            w.WriteNumber("epsilon", settings.Cvr.Epsilon);
            w.WriteString("activation_factor", "population variance^(1/4)");
            w.WriteEndObject();
            w.WriteStartObject("ec");
            w.WriteString("mode", EcOptions.ModeName(settings.Ec.Mode));
            w.WriteNumber("r_lo", settings.Ec.RLo);
            w.WriteNumber("r_hi", settings.Ec.RHi);
            w.WriteBoolean("uncentred", settings.Ec.Uncentred);
            w.WriteBoolean("activation_weighted_rows", settings.Ec.ActivationWeightedRows);
            w.WriteEndObject();
            w.WriteStartObject("sparsegpt");
            w.WriteNumber("block_size", settings.SparseGpt.BlockSize);
            w.WriteNumber("percdamp", settings.SparseGpt.PercDamp);
            w.WriteString("mask_rule", settings.SparseGpt.ExactCount ? "exact count per block" : "reference (t <= sorted[floor(numel*s)] per block)");
            w.WriteEndObject();
            w.WriteStartObject("profile");
            w.WriteString("kind", settings.Profile.Kind.ToString().ToLowerInvariant());
            w.WriteNumber("lambda", settings.Profile.Lambda);
            w.WriteNumber("owl_m", settings.Profile.OwlM);
            w.WriteString("spectral_metric", settings.Profile.Metric switch
            {
                SpectralMetric.AlphaMle => "alpha_mle", SpectralMetric.Tau => "tau", SpectralMetric.EffectiveRank => "rq", _ => "ww_alpha",
            });
            w.WriteString("unit", run.UnitKind);
            w.WriteEndObject();
            w.WriteEndObject();

            long total = 0, kept = 0;
            for (int k = 0; k < run.Targets.Count; k++)
            {
                long n = (long)run.Targets[k].Rows * run.Targets[k].Cols;
                total += n;
                kept += CountKept(run.Layers[k].Mask);
            }
            w.WriteNumber("parameters_pruned_over", total);
            w.WriteNumber("kept_fraction", total == 0 ? 1 : (double)kept / total);
            w.WriteNumber("sparsity_realised", total == 0 ? 0 : 1 - (double)kept / total);
            w.WriteNumber("seconds", totalSeconds);

            w.WriteStartArray("units");
            for (int u = 0; u < run.Units.Count; u++)
            {
                w.WriteStartObject();
                w.WriteString("unit", run.Units[u]);
                w.WriteNumber("target_sparsity", run.UnitSparsity[u]);
                if (run.UnitMetric[u] is double m) w.WriteNumber("metric", m); else w.WriteNull("metric");
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WriteStartArray("layers");
            for (int k = 0; k < run.Targets.Count; k++)
            {
                var t = run.Targets[k];
                var r = run.Layers[k];
                w.WriteStartObject();
                w.WriteString("tensor", t.TensorName);
                w.WriteString("role", t.Role);
                if (t.Block is int b) w.WriteNumber("block", b); else w.WriteNull("block");
                w.WriteStartArray("matrix"); w.WriteNumberValue(t.Rows); w.WriteNumberValue(t.Cols); w.WriteEndArray();
                w.WriteString("dtype", t.DType.ToString().ToUpperInvariant());
                w.WriteNumber("target_sparsity", r.TargetSparsity);
                w.WriteNumber("kept_fraction", r.KeptFraction);
                w.WriteNumber("remainder_dense_columns", r.RemainderDense);
                w.WriteNumber("dead_features", r.DeadFeatures);
                w.WriteNumber("zero_activation_features", r.ZeroActivationFeatures);
                w.WriteNumber("seconds", r.Seconds);
                if (r.Ec is { } ec)
                {
                    w.WriteStartObject("ec");
                    Hist(w, "column_ratio_histogram", ec.ColumnRatios, settings.Ec);
                    w.WriteNumber("columns_skipped", ec.ColumnsSkipped);
                    if (settings.Ec.Mode == EcMode.ColRow)
                    {
                        Hist(w, "row_ratio_histogram", ec.RowRatios, settings.Ec);
                        w.WriteNumber("rows_skipped", ec.RowsSkipped);
                    }
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    private static void Hist(Utf8JsonWriter w, string name, double[] ratios, EcOptions o)
    {
        w.WriteStartObject(name);
        w.WriteNumber("lo", o.RLo);
        w.WriteNumber("hi", o.RHi);
        w.WriteStartArray("counts");
        foreach (var c in EnergyCompensation.Histogram(ratios, o.RLo, o.RHi, HistogramBins)) w.WriteNumberValue(c);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static long CountKept(bool[] m) { long c = 0; foreach (var b in m) if (b) c++; return c; }
}
