using System.Text.Json;
using Cartan.Formats;
using LLama;
using LLama.Native;
using Xunit.Abstractions;

namespace Cartan.LlamaCpp.Tests;

/// <summary>
/// Generator of tests/Cartan.Tests/Fixtures/gguf/llamacpp: a 1-layer LLaMA (d 256, ffn 256, 4 heads / 2 KV heads,
/// vocabulary 320, tied head) with float16-representable random weights, written by Cartan as an F32 GGUF (the
/// quantiser's input, not kept) and as original_f16.gguf (the same values, losslessly), then quantised by llama.cpp's
/// llama_model_quantize into Q8_0, Q4_0, Q4_K_M, Q5_K_M and Q6_K. ggml's own parser and dequantisers (in the same
/// libggml-base.so) then write ggml_golden.json: every tensor's type and shape and statistics of its dequantised values,
/// plus the metadata llama.cpp wrote. tests/Cartan.Tests reads these files without LLamaSharp.
///
/// Every run regenerates the files in a temporary folder and requires them to equal the committed ones byte for byte
/// (quantisation is deterministic), so the fixtures provably are this program's output. With the environment variable
/// CARTAN_WRITE_LLAMACPP_FIXTURES=1 it writes them into the source tree instead.
/// </summary>
public class QuantisedFixtures(ITestOutputHelper output)
{
    public static readonly (string Name, LLamaFtype Ftype)[] Types =
    [
        ("Q8_0", LLamaFtype.MOSTLY_Q8_0),
        ("Q4_0", LLamaFtype.MOSTLY_Q4_0),
        ("Q4_K_M", LLamaFtype.MOSTLY_Q4_K_M),
        ("Q5_K_M", LLamaFtype.MOSTLY_Q5_K_M),
        ("Q6_K", LLamaFtype.MOSTLY_Q6_K),
    ];

    private static string FixtureDir
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d is not null && !File.Exists(Path.Combine(d.FullName, "Cartan.slnx"))) d = d.Parent;
            if (d is null) throw new InvalidOperationException("repository root not found");
            return Path.Combine(d.FullName, "tests", "Cartan.Tests", "Fixtures", "gguf", "llamacpp");
        }
    }

    internal static TinyLlama Model() =>
        new TinyLlama { Vocab = 320, Hidden = 256, Intermediate = 256, Layers = 1, Heads = 4, KvHeads = 2, Tied = true }
            .Randomize(seed: 2026, matrixScale: 0.05);

    /// <summary>Writes all fixture files into <paramref name="dir"/>; returns the file names.</summary>
    private List<string> Generate(string dir)
    {
        LlamaCpp.Configure();
        var m = Model();
        string f32 = Path.Combine(dir, "input-f32.gguf.tmp");
        m.SaveGguf(f32, GgufWriter.TensorType.F32);
        m.SaveGguf(Path.Combine(dir, "original_f16.gguf"), GgufWriter.TensorType.F16);
        var files = new List<string> { "original_f16.gguf" };
        foreach (var (name, ftype) in Types)
        {
            string file = $"tiny-{name}.gguf";
            bool ok = LLamaQuantizer.Quantize(f32, Path.Combine(dir, file), ftype, nthread: 1, allowRequantize: true, quantizeOutputTensor: false);
            Assert.True(ok, $"llama_model_quantize failed for {name}: {string.Join("", LlamaCpp.Log)}");
            files.Add(file);
        }
        File.Delete(f32);

        var golden = new SortedDictionary<string, object>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            string path = Path.Combine(dir, file);
            var (tensors, dataOffset) = Ggml.ReadTable(path);
            var bytes = File.ReadAllBytes(path);
            var entry = new SortedDictionary<string, object>(StringComparer.Ordinal);
            foreach (var t in tensors)
            {
                long n = t.Ne.Aggregate(1L, (a, b) => a * b);
                var y = Ggml.Dequantize(t.Type, bytes.AsSpan((int)(dataOffset + t.Offset), (int)t.Bytes), n);
                double sum = 0, sumsq = 0, wsum = 0;
                for (int i = 0; i < y.Length; i++)
                {
                    sum += y[i];
                    sumsq += (double)y[i] * y[i];
                    wsum += y[i] * (double)(i % 97 + 1);
                }
                entry[t.Name] = new Dictionary<string, object>
                {
                    ["type"] = t.Type.ToUpperInvariant(),
                    ["shape"] = t.Ne.Reverse().ToArray(),
                    ["sum"] = sum,
                    ["sumsq"] = sumsq,
                    ["wsum"] = wsum,
                    ["first"] = y.Take(32).Select(v => (double)v).ToArray(),
                    // every 1009th value (1009 is prime, so the samples walk through all positions within blocks)
                    ["every1009"] = Enumerable.Range(0, (y.Length + 1008) / 1009).Select(i => (double)y[i * 1009]).ToArray(),
                };
            }
            var meta = Ggml.ReadMetadata(path, [("general.architecture", true), ("llama.attention.head_count", false),
                ("llama.attention.head_count_kv", false), ("llama.embedding_length", false), ("llama.block_count", false),
                ("general.file_type", false), ("general.quantization_version", false)]);
            golden[file] = new Dictionary<string, object> { ["metadata"] = meta, ["tensors"] = entry };
        }
        var json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["generator"] = "tests/Cartan.LlamaCpp.Tests/QuantisedFixtures.cs (llama.cpp from LLamaSharp.Backend.Cpu 0.30.0; values dequantised by ggml's dequantize_row_*)",
            ["files"] = golden,
        }, new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(Path.Combine(dir, "ggml_golden.json"), json + "\n");
        files.Add("ggml_golden.json");
        return files;
    }

    [Fact]
    public void FixturesAreReproducedByLlamaCpp()
    {
        string tmp = Path.Combine(Path.GetTempPath(), $"cartan-llamacpp-fx-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        try
        {
            var files = Generate(tmp);
            output.WriteLine($"ggml library: {Ggml.LoadedFrom}");
            foreach (var f in files) output.WriteLine($"{f}: {new FileInfo(Path.Combine(tmp, f)).Length} bytes");
            if (Environment.GetEnvironmentVariable("CARTAN_WRITE_LLAMACPP_FIXTURES") == "1")
            {
                Directory.CreateDirectory(FixtureDir);
                foreach (var f in files) File.Copy(Path.Combine(tmp, f), Path.Combine(FixtureDir, f), overwrite: true);
                output.WriteLine($"wrote {files.Count} files to {FixtureDir}");
                return;
            }
            foreach (var f in files)
            {
                string committed = Path.Combine(FixtureDir, f);
                Assert.True(File.Exists(committed), $"{committed} is missing: run this test with CARTAN_WRITE_LLAMACPP_FIXTURES=1");
                Assert.True(File.ReadAllBytes(committed).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(tmp, f))),
                    $"{f} differs from what llama.cpp produces now ({Ggml.LoadedFrom}); regenerate with CARTAN_WRITE_LLAMACPP_FIXTURES=1 if the change is intended");
            }
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }

    /// <summary>K-quants need rows that are multiples of 256, else llama.cpp silently falls back to legacy types while
    /// the file type still says K: the fixture model is shaped so that the K types are really used.</summary>
    [Fact]
    public void KQuantFilesReallyHoldKTypes()
    {
        string tmp = Path.Combine(Path.GetTempPath(), $"cartan-llamacpp-k-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        try
        {
            LlamaCpp.Configure();
            string f32 = Path.Combine(tmp, "in.gguf");
            Model().SaveGguf(f32);
            string q = Path.Combine(tmp, "q.gguf");
            Assert.True(LLamaQuantizer.Quantize(f32, q, LLamaFtype.MOSTLY_Q4_K_M, 1, true, false));
            var (tensors, _) = Ggml.ReadTable(q);
            Assert.Equal("q4_K", tensors.Single(t => t.Name == "blk.0.attn_q.weight").Type);
            Assert.Equal("q4_K", tensors.Single(t => t.Name == "blk.0.ffn_gate.weight").Type);
            Assert.Equal("f32", tensors.Single(t => t.Name == "blk.0.attn_norm.weight").Type);
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }
}
