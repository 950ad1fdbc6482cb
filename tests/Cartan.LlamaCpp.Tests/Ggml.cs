using System.Runtime.InteropServices;

namespace Cartan.LlamaCpp.Tests;

/// <summary>
/// ggml's own GGUF parser and dequantisers, called in the libggml-base.so that LLamaSharp loaded (found through
/// /proc/self/maps, so it is exactly the library llama.cpp uses). This is the independent oracle for the quantised
/// fixtures: tensor names, types, shapes and dequantised values as llama.cpp itself sees them.
/// </summary>
internal static unsafe class Ggml
{
    [StructLayout(LayoutKind.Sequential)]
    private struct InitParams
    {
        public byte NoAlloc;
        public IntPtr* Ctx;
    }

    private static readonly Lazy<IntPtr> Lib = new(Load);

    private static IntPtr Load()
    {
        // LLamaSharp loads the native libraries on first use of its API.
        LLama.Native.NativeApi.llama_max_devices();
        string? path = File.ReadLines("/proc/self/maps")
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(p => p.Length >= 6 && p[^1].EndsWith("/libggml-base.so", StringComparison.Ordinal))
            .Select(p => p[^1]).FirstOrDefault();
        if (path is null) throw new InvalidOperationException("libggml-base.so is not loaded in this process");
        LoadedFrom = path;
        return NativeLibrary.Load(path);
    }

    /// <summary>The path of the libggml-base.so in use (tells which CPU variant LLamaSharp picked).</summary>
    public static string LoadedFrom { get; private set; } = "";

    private static IntPtr F(string name) => NativeLibrary.GetExport(Lib.Value, name);

    public sealed record TensorInfo(string Name, string Type, long[] Ne, long Offset, long Bytes);

    /// <summary>Tensor table of a GGUF file as ggml parses it (ne in ggml order), and the data section's offset.</summary>
    public static (List<TensorInfo> Tensors, long DataOffset) ReadTable(string path)
    {
        var init = (delegate* unmanaged<byte*, InitParams, IntPtr>)F("gguf_init_from_file");
        var free = (delegate* unmanaged<IntPtr, void>)F("gguf_free");
        var nTensors = (delegate* unmanaged<IntPtr, long>)F("gguf_get_n_tensors");
        var tName = (delegate* unmanaged<IntPtr, long, byte*>)F("gguf_get_tensor_name");
        var tType = (delegate* unmanaged<IntPtr, long, int>)F("gguf_get_tensor_type");
        var tOff = (delegate* unmanaged<IntPtr, long, nuint>)F("gguf_get_tensor_offset");
        var tSize = (delegate* unmanaged<IntPtr, long, nuint>)F("gguf_get_tensor_size");
        var dataOff = (delegate* unmanaged<IntPtr, nuint>)F("gguf_get_data_offset");
        var typeName = (delegate* unmanaged<int, byte*>)F("ggml_type_name");
        var getTensor = (delegate* unmanaged<IntPtr, byte*, IntPtr>)F("ggml_get_tensor");
        var nElements = (delegate* unmanaged<IntPtr, long>)F("ggml_nelements");
        var nDims = (delegate* unmanaged<IntPtr, int>)F("ggml_n_dims");
        var ctxFree = (delegate* unmanaged<IntPtr, void>)F("ggml_free");

        IntPtr ggmlCtx = IntPtr.Zero;
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        IntPtr g;
        fixed (byte* p = bytes)
            g = init(p, new InitParams { NoAlloc = 1, Ctx = &ggmlCtx });
        if (g == IntPtr.Zero) throw new InvalidOperationException($"ggml could not parse {path}");
        try
        {
            var list = new List<TensorInfo>();
            long n = nTensors(g);
            for (long i = 0; i < n; i++)
            {
                string name = Marshal.PtrToStringUTF8((IntPtr)tName(g, i))!;
                string type = Marshal.PtrToStringUTF8((IntPtr)typeName(tType(g, i)))!;
                var nameBytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
                IntPtr t;
                fixed (byte* pn = nameBytes) t = getTensor(ggmlCtx, pn);
                if (t == IntPtr.Zero) throw new InvalidOperationException($"ggml has no tensor {name}");
                // struct ggml_tensor { enum ggml_type type; struct ggml_backend_buffer * buffer; int64_t ne[4]; ... }
                var ne4 = new long[4];
                for (int d = 0; d < 4; d++) ne4[d] = *(long*)((byte*)t + 16 + 8 * d);
                int dims = nDims(t);
                if (ne4.Aggregate(1L, (a, b) => a * b) != nElements(t))
                    throw new InvalidOperationException("ggml_tensor layout is not the one assumed (ne at byte 16)");
                list.Add(new TensorInfo(name, type, ne4[..dims], (long)tOff(g, i), (long)tSize(g, i)));
            }
            return (list, (long)dataOff(g));
        }
        finally
        {
            free(g);
            if (ggmlCtx != IntPtr.Zero) ctxFree(ggmlCtx);
        }
    }

    /// <summary>Metadata values as ggml reads them: strings and u32 integers by key (absent keys are left out).</summary>
    public static Dictionary<string, object> ReadMetadata(string path, IEnumerable<(string Key, bool IsString)> keys)
    {
        var init = (delegate* unmanaged<byte*, InitParams, IntPtr>)F("gguf_init_from_file");
        var free = (delegate* unmanaged<IntPtr, void>)F("gguf_free");
        var find = (delegate* unmanaged<IntPtr, byte*, long>)F("gguf_find_key");
        var getStr = (delegate* unmanaged<IntPtr, long, byte*>)F("gguf_get_val_str");
        var getU32 = (delegate* unmanaged<IntPtr, long, uint>)F("gguf_get_val_u32");
        var kvType = (delegate* unmanaged<IntPtr, long, int>)F("gguf_get_kv_type");
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        IntPtr g;
        fixed (byte* p = bytes) g = init(p, new InitParams { NoAlloc = 1, Ctx = null });
        if (g == IntPtr.Zero) throw new InvalidOperationException($"ggml could not parse {path}");
        try
        {
            var result = new Dictionary<string, object>();
            foreach (var (key, isString) in keys)
            {
                var kb = System.Text.Encoding.UTF8.GetBytes(key + "\0");
                long id;
                fixed (byte* pk = kb) id = find(g, pk);
                if (id < 0) continue;
                int t = kvType(g, id);
                // gguf_type: 4 = UINT32, 8 = STRING
                if (isString && t == 8) result[key] = Marshal.PtrToStringUTF8((IntPtr)getStr(g, id))!;
                else if (!isString && t == 4) result[key] = getU32(g, id);
                else throw new InvalidOperationException($"{key} has gguf type {t}");
            }
            return result;
        }
        finally
        {
            free(g);
        }
    }

    /// <summary>Dequantises <paramref name="count"/> values of a ggml type with ggml's own dequantize_row_* (F32 and
    /// F16 are converted directly).</summary>
    public static float[] Dequantize(string type, ReadOnlySpan<byte> raw, long count)
    {
        var y = new float[count];
        switch (type)
        {
            case "f32":
                for (long i = 0; i < count; i++) y[i] = BitConverter.ToSingle(raw.Slice((int)(4 * i), 4));
                return y;
            case "f16":
                var toF = (delegate* unmanaged<ushort, float>)F("ggml_fp16_to_fp32");
                for (long i = 0; i < count; i++) y[i] = toF(BitConverter.ToUInt16(raw.Slice((int)(2 * i), 2)));
                return y;
        }
        var fn = (delegate* unmanaged<byte*, float*, long, void>)F("dequantize_row_" + type);
        fixed (byte* x = raw)
        fixed (float* py = y)
            fn(x, py, count);
        return y;
    }
}
