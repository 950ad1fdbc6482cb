using Cartan.Formats;
using Cartan.Tensors;

namespace Cartan.Torch;

/// <summary>
/// Names the weights of a BERT exported to ONNX by PyTorch (as all-MiniLM-L6-v2 is) with their Hugging Face names.
/// The exporter keeps names for biases, LayerNorms and embeddings but numbers the Linear weights, stored transposed
/// ([in, out]) as MatMul inputs. Each MatMul whose B input is a 2-D initializer and whose output feeds an Add with a
/// "….bias" initializer is that bias's layer: the weight gets the bias's name with ".weight", transposed to [out, in].
/// </summary>
public static class OnnxBert
{
    /// <summary>HF name → tensor (lazily transposed where needed), for <see cref="HfModule.LoadWeights(Func{string, WeightTensor?}, string)"/>.</summary>
    public static Dictionary<string, WeightTensor> HfWeights(WeightModel onnx)
    {
        var graph = onnx.Graph ?? throw new CartanFormatException(onnx.Source, "the model has no op graph to follow");
        var inits = new Dictionary<string, WeightTensor>(StringComparer.Ordinal);
        foreach (var t in onnx.Tensors) inits.TryAdd(t.Name, t);
        var result = new Dictionary<string, WeightTensor>(StringComparer.Ordinal);
        foreach (var t in onnx.Tensors)
            if (t.Name.EndsWith(".bias", StringComparison.Ordinal) || t.Name.Contains("embeddings.", StringComparison.Ordinal)
                || t.Name.EndsWith("LayerNorm.weight", StringComparison.Ordinal))
                result.TryAdd(t.Name, t);

        foreach (var node in graph.Nodes)
        {
            if (node.OpType != "MatMul" || node.Inputs.Count != 2 || node.Outputs.Count != 1) continue;
            if (!inits.TryGetValue(node.Inputs[1], out var w) || w.Shape.Length != 2) continue;
            string? bias = null;
            foreach (var add in graph.ConsumersOf(node.Outputs[0]))
            {
                if (add.OpType != "Add" || add.Inputs.Count != 2) continue;
                string other = add.Inputs[0] == node.Outputs[0] ? add.Inputs[1] : add.Inputs[0];
                if (other.EndsWith(".bias", StringComparison.Ordinal) && inits.ContainsKey(other)) { bias = other; break; }
            }
            if (bias is null) continue;
            string name = bias[..^".bias".Length] + ".weight";
            long rows = w.Shape[0], cols = w.Shape[1];
            if (result.ContainsKey(name))
                throw new CartanFormatException(onnx.Source, $"two MatMul weights claim '{name}'");
            result[name] = new WeightTensor(name, [cols, rows], w.DType, w.StoredType, () => Transpose(w.ReadDoubles(), rows, cols),
                TensorLayout.OutIn, w.File);
        }
        return result;
    }

    private static double[] Transpose(double[] a, long rows, long cols)
    {
        var t = new double[a.LongLength];
        for (long i = 0; i < rows; i++)
            for (long j = 0; j < cols; j++)
                t[j * rows + i] = a[i * cols + j];
        return t;
    }
}
