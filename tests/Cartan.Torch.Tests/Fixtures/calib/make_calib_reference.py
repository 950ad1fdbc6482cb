#!/usr/bin/python3
"""Golden calibration statistics for Cartan.Torch's block-sequential calibration, computed independently with Debian's
python3-torch (1.13) in float64. Run with /usr/bin/python3 from this folder:  /usr/bin/python3 make_calib_reference.py

For the tiny random LLaMA and GPT-2 of ../reference/{llama,gpt2}/model (F32 weights, read here by hand) it draws fixed
calibration token ids and writes {llama,gpt2}.safetensors (F64) with
  ids                                   the calibration sequences [samples, seqlen]
  dense.NAME.{n,sum,sumsq,hessian}      input statistics of every linear weight NAME (HF name) when every block sees
                                        the dense model's activations (n tokens, Σx and Σx² per input feature, XᵀX)
  seq.NAME.{n,sum,sumsq}                the same, block-sequential as in Wanda: block b's inputs come from blocks
                                        0..b−1 already pruned, here by magnitude at 50 % per output row (the ⌊in/2⌋
                                        smallest |W_ij| of each row of the out × in matrix set to 0)
The models are written out in plain torch following the Hugging Face definitions (no transformers here).
tiny.onnx is a one-layer ONNX model, a weight file that calibration must refuse (no network to build).
"""
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_default_dtype(torch.float64)


sys.path.insert(0, os.path.join(HERE, ".."))
from safetensors_writer import read_safetensors, write_safetensors  # noqa: E402  (one reader/writer for every reference script here)


def read_weights(path):
    """The F32 weights of a reference model as float64 torch tensors."""
    out = {}
    for name, a in read_safetensors(path).items():
        assert a.dtype == np.float32, name
        out[name] = torch.from_numpy(a.astype(np.float64))
    return out


def causal_attention(q, k, v):
    T = q.shape[-2]
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(s, -1) @ v


def magnitude_half(w_canonical):
    """Per output row, zero the floor(in/2) entries of smallest |w| (canonical out × in)."""
    w = w_canonical.clone()
    k = w.shape[1] // 2
    idx = torch.argsort(w.abs(), dim=1)[:, :k]
    w.scatter_(1, idx, 0.0)
    return w


class Stats:
    def __init__(self):
        self.d = {}

    def add(self, names, x):
        x = x.reshape(-1, x.shape[-1])
        for n in names:
            if n not in self.d:
                self.d[n] = [0, torch.zeros(x.shape[-1]), torch.zeros(x.shape[-1]), torch.zeros(x.shape[-1], x.shape[-1])]
            e = self.d[n]
            e[0] += x.shape[0]
            e[1] += x.sum(0)
            e[2] += (x * x).sum(0)
            e[3] += x.T @ x

    def export(self, prefix, hessian):
        out = []
        for n, (cnt, s, sq, h) in self.d.items():
            out += [(f"{prefix}.{n}.n", np.array([cnt], dtype=np.float64)), (f"{prefix}.{n}.sum", s.numpy()),
                    (f"{prefix}.{n}.sumsq", sq.numpy())]
            if hessian:
                out.append((f"{prefix}.{n}.hessian", h.numpy()))
        return out


def run(blocks, embed, prune_linears, w, ids):
    """Dense and block-sequential statistics. blocks: list of (block fn(h, w, tap), [(name, canonical fn, store fn)])."""
    dense, seq = Stats(), Stats()
    h = embed(ids)
    for block, _ in blocks:
        h = block(h, w, dense.add)
    wp = dict(w)
    h = embed(ids)
    for block, linears in blocks:
        block(h, wp, seq.add)
        for name, to_canonical, to_stored in linears:
            wp[name] = to_stored(magnitude_half(to_canonical(wp[name])))
        h = block(h, wp, lambda names, x: None)
    return dense.export("dense", True) + seq.export("seq", False)


def llama():
    folder = os.path.join(HERE, "..", "reference", "llama", "model")
    cfg = json.load(open(os.path.join(folder, "config.json")))
    w = read_weights(os.path.join(folder, "model.safetensors"))
    H, nh, nkv, L, V = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["num_hidden_layers"], cfg["vocab_size"]
    d = H // nh
    g = torch.Generator().manual_seed(21)
    ids = torch.randint(0, V, (5, 12), generator=g)
    T = ids.shape[1]
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    emb = torch.cat([torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]] * 2, -1)
    cos, sin = emb.cos(), emb.sin()

    def rms(x, weight):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["rms_norm_eps"]))

    def rope(x):
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def make_block(i):
        p = f"model.layers.{i}."

        def block(h, w, tap):
            B = h.shape[0]
            a = rms(h, w[p + "input_layernorm.weight"])
            tap([p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"], a)
            q = rope((a @ w[p + "self_attn.q_proj.weight"].T).view(B, T, nh, d).transpose(1, 2))
            k = rope((a @ w[p + "self_attn.k_proj.weight"].T).view(B, T, nkv, d).transpose(1, 2))
            v = (a @ w[p + "self_attn.v_proj.weight"].T).view(B, T, nkv, d).transpose(1, 2)
            k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)
            o = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, nh * d)
            tap([p + "self_attn.o_proj.weight"], o)
            h = h + o @ w[p + "self_attn.o_proj.weight"].T
            m = rms(h, w[p + "post_attention_layernorm.weight"])
            tap([p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"], m)
            gu = torch.nn.functional.silu(m @ w[p + "mlp.gate_proj.weight"].T) * (m @ w[p + "mlp.up_proj.weight"].T)
            tap([p + "mlp.down_proj.weight"], gu)
            return h + gu @ w[p + "mlp.down_proj.weight"].T

        ident = lambda x: x
        names = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
        return block, [(p + n + ".weight", ident, ident) for n in names]

    blocks = [make_block(i) for i in range(L)]
    ref = [("ids", ids.numpy().astype(np.int64))] + run(blocks, lambda ids: w["model.embed_tokens.weight"][ids], None, w, ids)
    write_safetensors(os.path.join(HERE, "llama.safetensors"), ref)
    print(f"llama: {len(ref)} arrays")


def gpt2():
    folder = os.path.join(HERE, "..", "reference", "gpt2", "model")
    cfg = json.load(open(os.path.join(folder, "config.json")))
    w = read_weights(os.path.join(folder, "model.safetensors"))
    E, nh, L, V = cfg["n_embd"], cfg["n_head"], cfg["n_layer"], cfg["vocab_size"]
    d, eps = E // nh, cfg["layer_norm_epsilon"]
    g = torch.Generator().manual_seed(22)
    ids = torch.randint(0, V, (4, 10), generator=g)
    T = ids.shape[1]

    def ln(x, wt, b):
        mu = x.mean(-1, keepdim=True)
        var = (x - mu).pow(2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * wt + b

    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    def heads(x):
        return x.view(x.shape[0], T, nh, d).transpose(1, 2)

    def make_block(i):
        p = f"transformer.h.{i}."

        def block(h, w, tap):
            B = h.shape[0]
            a = ln(h, w[p + "ln_1.weight"], w[p + "ln_1.bias"])
            tap([p + "attn.c_attn.weight"], a)
            q, k, v = (a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]).split(E, 2)
            o = causal_attention(heads(q), heads(k), heads(v)).transpose(1, 2).reshape(B, T, E)
            tap([p + "attn.c_proj.weight"], o)
            h = h + o @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            m = ln(h, w[p + "ln_2.weight"], w[p + "ln_2.bias"])
            tap([p + "mlp.c_fc.weight"], m)
            f = gelu_new(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
            tap([p + "mlp.c_proj.weight"], f)
            return h + f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]

        tr = lambda x: x.T.contiguous()  # Conv1D [in, out] <-> canonical [out, in]
        return block, [(p + n + ".weight", tr, tr) for n in ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]]

    blocks = [make_block(i) for i in range(L)]
    embed = lambda ids: w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(T)]
    ref = [("ids", ids.numpy().astype(np.int64))] + run(blocks, embed, None, w, ids)
    write_safetensors(os.path.join(HERE, "gpt2.safetensors"), ref)
    print(f"gpt2: {len(ref)} arrays")


def tiny_onnx():
    """A one-layer ONNX model (MatMul + Add with initializers): a weight file calibration cannot build a network from."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    r = np.random.RandomState(3)
    w = numpy_helper.from_array(r.randn(8, 4).astype(np.float32), "dense.weight")
    b = numpy_helper.from_array(r.randn(4).astype(np.float32), "dense.bias")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "dense.weight"], ["h"]), helper.make_node("Add", ["h", "dense.bias"], ["y"])],
                              "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w, b])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(HERE, "tiny.onnx"))
    print("tiny.onnx")


if __name__ == "__main__":
    llama()
    gpt2()
    tiny_onnx()
