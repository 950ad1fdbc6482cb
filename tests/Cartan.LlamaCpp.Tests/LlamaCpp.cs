using LLama;
using LLama.Common;
using LLama.Native;

namespace Cartan.LlamaCpp.Tests;

/// <summary>Runs llama.cpp (LLamaSharp.Backend.Cpu 0.30.0) on a GGUF file: logits for every position of one sequence,
/// with an F32 KV cache, flash attention off and one thread, so that its arithmetic is plain float32.</summary>
internal static class LlamaCpp
{
    private static readonly object Gate = new();
    private static bool _configured;

    /// <summary>llama.cpp's log lines, kept for failure messages (warnings and errors only).</summary>
    public static readonly List<string> Log = [];

    internal static void Configure()
    {
        lock (Gate)
        {
            if (_configured) return;
            _configured = true;
            NativeLibraryConfig.All.WithLogCallback((level, message) =>
            {
                if (level >= LLamaLogLevel.Warning) lock (Log) Log.Add(message);
            });
            // Loads the native libraries (LLamaSharp's resolver is set up by NativeApi's static constructor; other
            // classes' imports, such as the quantiser's default parameters, fail when they come first).
            NativeApi.llama_max_devices();
        }
    }

    /// <summary>Logits [position][vocab] for <paramref name="tokens"/> fed as one batch at positions 0…n−1.</summary>
    public static float[][] Logits(string gguf, int[] tokens)
    {
        Configure();
        var p = new ModelParams(gguf)
        {
            ContextSize = (uint)Math.Max(64, tokens.Length),
            BatchSize = (uint)Math.Max(64, tokens.Length),
            UBatchSize = (uint)Math.Max(64, tokens.Length),
            Threads = 1,
            BatchThreads = 1,
            GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        using var model = LLamaWeights.LoadFromFile(p);
        using var ctx = model.CreateContext(p);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, true);
        var rc = ctx.NativeHandle.Decode(batch);
        if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {rc}");
        var result = new float[tokens.Length][];
        for (int i = 0; i < tokens.Length; i++) result[i] = ctx.NativeHandle.GetLogitsIth(i).ToArray();
        return result;
    }
}
