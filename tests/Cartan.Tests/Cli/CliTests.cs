using System.Diagnostics;
using System.Text.Json;
using Cartan.Cli;
using Cartan.Formats;
using Cartan.Tensors;

namespace Cartan.Tests.Cli;

public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Cartan.Cli.Cli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Inspect_of_the_default_model_shows_six_blocks_of_six_roles_with_twelve_heads()
    {
        var (code, stdout, _) = Run("inspect");
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("heads: 12 (kv 12, d_h 32)", stdout);
        Assert.Contains("architecture: bert", stdout);
        var json = Path.Combine(TestPaths.NewTempDir(), "inspect.json");
        Assert.Equal(ExitCodes.Ok, Run("inspect", "--json", json).Code);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
        var layers = doc.RootElement.GetProperty("layers").EnumerateArray().ToList();
        foreach (var role in new[] { "attn_q", "attn_k", "attn_v", "attn_o", "mlp_up", "mlp_down" })
        {
            var blocks = layers.Where(l => l.GetProperty("role").GetString() == role).Select(l => l.GetProperty("block").GetInt32()).OrderBy(b => b).ToList();
            Assert.Equal([0, 1, 2, 3, 4, 5], blocks);
        }
        Assert.All(layers.Where(l => l.GetProperty("role").GetString() is "attn_q" or "attn_o"),
            l => Assert.Equal(12, l.GetProperty("heads").GetProperty("num_heads").GetInt32()));
        var ifaces = doc.RootElement.GetProperty("interfaces").EnumerateArray().Select(i => i.GetProperty("kind").GetString()).ToList();
        Assert.Equal(6, ifaces.Count(k => k!.StartsWith("v→o")));
        Assert.Equal(6, ifaces.Count(k => k!.StartsWith("up→down")));
        Assert.Equal(5, ifaces.Count(k => k!.StartsWith("down→q")));
        // Every tensor that is not a layer is listed with a reason.
        Assert.All(doc.RootElement.GetProperty("skipped").EnumerateArray(), s => Assert.False(string.IsNullOrEmpty(s.GetProperty("reason").GetString())));
    }

    [Fact]
    public void Usage_errors_exit_2_with_one_line()
    {
        foreach (var args in new[] { new[] { "frobnicate" }, ["analyze", "--no-such-option"], ["analyze", "--heads", "x"],
                     ["analyze", "--conv-view", "sideways"], ["inspect", "--pair", "nope", "927"], ["analyze", "a", "b"], ["analyze", "--kv-heads", "2"] })
        {
            var (code, _, err) = Run(args);
            Assert.Equal(ExitCodes.Usage, code);
            Assert.Single(err.Trim().Split('\n'));
            Assert.StartsWith("cartan: ", err);
        }
    }

    [Fact]
    public void Bad_input_exits_3_quickly_with_one_line_naming_the_file_and_writes_nothing()
    {
        var dir = TestPaths.NewTempDir();
        var src = TestPaths.Fixture("safetensors", "small.safetensors");
        var bytes = File.ReadAllBytes(src);
        var cases = new Dictionary<string, byte[]>
        {
            ["truncated.safetensors"] = bytes[..(bytes.Length / 2)],
            ["header.safetensors"] = [.. BitConverter.GetBytes((ulong)bytes.Length * 4), .. bytes[8..]],
            ["garbage.onnx"] = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ["empty.npy"] = [],
        };
        foreach (var (name, content) in cases)
        {
            var path = Path.Combine(dir, name);
            File.WriteAllBytes(path, content);
            var outDir = Path.Combine(dir, "out-" + name);
            var sw = Stopwatch.StartNew();
            var (code, stdout, err) = Run("analyze", path, "--out", outDir);
            Assert.True(sw.Elapsed.TotalSeconds < 2, $"{name} took {sw.Elapsed.TotalSeconds:F2} s");
            Assert.Equal(ExitCodes.BadInput, code);
            var line = Assert.Single(err.Trim().Split('\n'));
            Assert.Contains(name, line);
            Assert.DoesNotContain("   at ", err);
            Assert.False(Directory.Exists(outDir), $"{name}: output folder was created");
            Assert.Equal(content, File.ReadAllBytes(path));
        }
        Assert.Equal(ExitCodes.BadInput, Run("inspect", Path.Combine(dir, "missing.safetensors")).Code);
    }

    [Fact]
    public void Output_may_not_overwrite_the_input()
    {
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "m.safetensors");
        File.Copy(TestPaths.Fixture("safetensors", "small.safetensors"), path);
        var before = File.ReadAllBytes(path);
        Assert.Equal(ExitCodes.Usage, Run("analyze", path, "--json", path).Code);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void Analyze_writes_json_csv_and_html_for_a_safetensors_file()
    {
        var dir = TestPaths.NewTempDir();
        var (code, stdout, _) = Run("analyze", TestPaths.Fixture("safetensors", "small.safetensors"), "--out", dir, "--quiet");
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("layers analysed", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "analysis.json")));
        Assert.Equal("cartan.analysis/1", doc.RootElement.GetProperty("schema").GetString());
        Assert.Equal("safetensors", doc.RootElement.GetProperty("model").GetProperty("format").GetString());
        Assert.True(File.Exists(Path.Combine(dir, "layers.csv")));
        Assert.True(File.Exists(Path.Combine(dir, "report.html")));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void Analyze_never_loads_TorchSharp()
    {
        var (code, _, _) = Run("analyze", TestPaths.Fixture("safetensors", "small.safetensors"), "--json", Path.Combine(TestPaths.NewTempDir(), "a.json"), "--quiet");
        Assert.Equal(ExitCodes.Ok, code);
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name!.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase));
        // Nor does the CLI reference it at all: libtorch need not load for the analysis path.
        Assert.DoesNotContain(typeof(Cartan.Cli.Cli).Assembly.GetReferencedAssemblies(), n => n.Name!.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase) || n.Name == "Cartan.Torch");
    }
}

/// <summary>Wall-time and memory measurements run alone, not beside the parallel test classes competing for the two cores.</summary>
[CollectionDefinition("timing", DisableParallelization = true)]
public sealed class TimingCollection;

[Collection("timing")]
public class CliTimingTests
{
    [Fact]
    public async Task Inspect_of_a_320_MB_safetensors_file_maps_instead_of_reading()
    {
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "big.safetensors");
        try
        {
            // 20 F32 matrices of 4096×1024 (16 MiB each) = 320 MiB: header written, data left sparse.
            var header = new System.Text.StringBuilder("{");
            long offset = 0, size = 4096L * 1024 * 4;
            for (int i = 0; i < 20; i++)
            {
                if (i > 0) header.Append(',');
                header.Append($"\"model.layers.{i}.mlp.up_proj.weight\":{{\"dtype\":\"F32\",\"shape\":[4096,1024],\"data_offsets\":[{offset},{offset + size}]}}");
                offset += size;
            }
            header.Append('}');
            var hb = System.Text.Encoding.UTF8.GetBytes(header.ToString());
            using (var fs = File.Create(path))
            {
                fs.Write(BitConverter.GetBytes((ulong)hb.Length));
                fs.Write(hb);
                fs.SetLength(8 + hb.Length + offset);
            }
            Assert.True(new FileInfo(path).Length > 300_000_000);
            var cli = Path.Combine(AppContext.BaseDirectory, "Cartan.Cli.dll");
            var psi = new ProcessStartInfo("dotnet", [cli, "inspect", path])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            psi.Environment["CARTAN_REPORT_RSS"] = "1";
            var sw = Stopwatch.StartNew();
            using var p = Process.Start(psi)!;
            var stdoutTask = p.StandardOutput.ReadToEndAsync();
            var stderr = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            var stdout = await stdoutTask;
            sw.Stop();
            Assert.Equal(0, p.ExitCode);
            Assert.Contains("layers (20)", stdout);
            var rss = double.Parse(stderr.Split('\n').Single(l => l.StartsWith("peak_rss_mib:"))[13..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(rss < 150, $"peak RSS {rss} MiB");
            // Wall time includes starting the .NET runtime; the budget is the 1 s, with 2 s of slack for a loaded CI machine.
            Assert.True(sw.Elapsed.TotalSeconds < 3, $"inspect took {sw.Elapsed.TotalSeconds:F2} s");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
