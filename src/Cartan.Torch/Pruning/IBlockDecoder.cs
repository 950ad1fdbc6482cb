using static TorchSharp.torch;

namespace Cartan.Torch.Pruning;

/// <summary>
/// Told the input of a group of linear layers that read the same activations (q/k/v; gate/up; GPT-2's fused c_attn),
/// with the HF names of their weights. <paramref name="input"/> is [batch, time, in] and lives only during the call.
/// </summary>
public delegate void LinearInputTap(IReadOnlyList<string> weightNames, Tensor input);

/// <summary>
/// A decoder that can be run one block at a time, as block-sequential calibration needs (Wanda, SparseGPT):
/// <c>forward(ids)</c> equals the head applied to ForwardBlock(B−1, … ForwardBlock(0, EmbedInputs(ids))).
/// </summary>
public interface IBlockDecoder
{
    /// <summary>Number of decoder blocks.</summary>
    int BlockCount { get; }

    /// <summary>The hidden states [batch, time, hidden] that enter block 0 (token and, where the model has them, position embeddings).</summary>
    Tensor EmbedInputs(Tensor ids);

    /// <summary>Block <paramref name="block"/> applied to hidden states [batch, time, hidden]; <paramref name="tap"/>
    /// sees the input of every linear layer of the block, in execution order.</summary>
    Tensor ForwardBlock(int block, Tensor hidden, LinearInputTap? tap = null);
}
