#!/usr/bin/python3
"""Golden values for Cartan.Torch's model builders, computed independently with Debian's python3-torch (1.13)
and numpy. Run with /usr/bin/python3 from this folder:  /usr/bin/python3 make_reference.py [path/to/minilm.onnx]

For each of llama/, qwen2/, mistral/, gpt2/, bert/, mlp/ it builds a tiny random model with a fixed seed, following the Hugging Face
definitions (transformers is not installed here, so the models are written in plain torch, float64), writes
  model/config.json          the HF config
  model/model.safetensors    the weights, F32, HF tensor names (bytes written by hand below)
  reference.safetensors  F64: inputs, logits (or hidden states), the cross-entropy loss on fixed targets and the
                         gradient of that loss for every weight ("grad." + HF name), computed from the F32 weights.
For minilm/ it runs the ONNX graph of all-MiniLM-L6-v2 itself through a small numpy interpreter of its operators
(no weight renaming, no BERT code) and writes the mean-pooled embeddings of fixed token ids.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_default_dtype(torch.float64)


sys.path.insert(0, os.path.join(HERE, ".."))
from safetensors_writer import write_safetensors  # noqa: E402  (one writer for every reference script here)


class Weights:
    """Random F32 weights by HF name, handed out as float64 leaf tensors that collect gradients."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)
        self.order, self.p = [], {}

    def new(self, name, shape, kind="matrix"):
        if kind == "matrix":
            v = torch.randn(shape, generator=self.g) * 0.3
        elif kind == "norm":
            v = 1.0 + 0.1 * torch.randn(shape, generator=self.g)
        else:  # bias
            v = 0.1 * torch.randn(shape, generator=self.g)
        v = v.float().double().requires_grad_(True)  # the F32 values, computed in float64
        self.order.append(name)
        self.p[name] = v
        return v

    def __getitem__(self, name):
        return self.p[name]


def save(folder, config, w, reference):
    os.makedirs(os.path.join(folder, "model"), exist_ok=True)
    with open(os.path.join(folder, "model", "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(folder, "model", "model.safetensors"),
                      [(n, w[n].detach().numpy().astype(np.float32)) for n in w.order])
    write_safetensors(os.path.join(folder, "reference.safetensors"), reference)


def finish(folder, config, w, inputs, out, targets):
    """Cross-entropy of out [B,T,V] (or [B,V]) against targets, one backward pass, everything saved."""
    loss = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), targets.reshape(-1))
    loss.backward()
    ref = list(inputs) + [("targets", targets.numpy().astype(np.int64)), ("output", out.detach().numpy()),
                          ("loss", loss.detach().reshape(1).numpy())]
    ref += [("grad." + n, w[n].grad.numpy()) for n in w.order]
    save(folder, config, w, ref)
    print(f"{os.path.basename(folder)}: output {tuple(out.shape)}, loss {loss.item():.6f}, {len(w.order)} weights")


def causal_attention(q, k, v, scale, window=None):
    """Causal attention; with a sliding window (HF Mistral), position i sees j only when 0 <= i - j < window."""
    T = q.shape[-2]
    s = q @ k.transpose(-1, -2) * scale
    s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    if window is not None:
        s = s.masked_fill(torch.tril(torch.ones(T, T, dtype=torch.bool), -window), float("-inf"))
    return torch.softmax(s, -1) @ v


def llama(kind="llama"):
    """kind: llama; qwen2 (Qwen2ForCausalLM: biases on q/k/v, none on o); mistral (MistralForCausalLM: sliding-window
    attention, window 4 < T = 9, so the window really masks)."""
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 61, "hidden_size": 32,
           "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
           "tie_word_embeddings": False, "torch_dtype": "float32"}
    window = None
    if kind == "qwen2":
        cfg.update({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "use_sliding_window": False,
                    "rope_theta": 1000000.0})
    elif kind == "mistral":
        window = 4
        cfg.update({"model_type": "mistral", "architectures": ["MistralForCausalLM"], "sliding_window": window})
    bias = kind == "qwen2"
    V, H, I, L, nh, nkv = 61, 32, 48, 2, 4, 2
    d = H // nh
    w = Weights(1)
    w.new("model.embed_tokens.weight", (V, H))
    for i in range(L):
        p = f"model.layers.{i}."
        w.new(p + "input_layernorm.weight", (H,), "norm")
        w.new(p + "self_attn.q_proj.weight", (nh * d, H))
        w.new(p + "self_attn.k_proj.weight", (nkv * d, H))
        w.new(p + "self_attn.v_proj.weight", (nkv * d, H))
        if bias:
            w.new(p + "self_attn.q_proj.bias", (nh * d,), "bias")
            w.new(p + "self_attn.k_proj.bias", (nkv * d,), "bias")
            w.new(p + "self_attn.v_proj.bias", (nkv * d,), "bias")
        w.new(p + "self_attn.o_proj.weight", (H, nh * d))
        w.new(p + "post_attention_layernorm.weight", (H,), "norm")
        w.new(p + "mlp.gate_proj.weight", (I, H))
        w.new(p + "mlp.up_proj.weight", (I, H))
        w.new(p + "mlp.down_proj.weight", (H, I))
    w.new("model.norm.weight", (H,), "norm")
    w.new("lm_head.weight", (V, H))

    g = torch.Generator().manual_seed(11)
    ids = torch.randint(0, V, (2, 9), generator=g)
    targets = torch.randint(0, V, (2, 9), generator=g)
    B, T = ids.shape

    def rms(x, weight):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["rms_norm_eps"]))

    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], -1)
    cos, sin = emb.cos(), emb.sin()

    def rope(x):  # HF rotate_half convention
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    h = w["model.embed_tokens.weight"][ids]
    for i in range(L):
        p = f"model.layers.{i}."
        a = rms(h, w[p + "input_layernorm.weight"])
        def proj(name):
            y = a @ w[p + f"self_attn.{name}_proj.weight"].T
            return y + w[p + f"self_attn.{name}_proj.bias"] if bias else y
        q = proj("q").view(B, T, nh, d).transpose(1, 2)
        k = proj("k").view(B, T, nkv, d).transpose(1, 2)
        v = proj("v").view(B, T, nkv, d).transpose(1, 2)
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(nh // nkv, dim=1)  # HF repeat_kv: kv head j serves query heads j*n_rep..
        v = v.repeat_interleave(nh // nkv, dim=1)
        o = causal_attention(q, k, v, 1.0 / math.sqrt(d), window).transpose(1, 2).reshape(B, T, nh * d)
        h = h + o @ w[p + "self_attn.o_proj.weight"].T
        m = rms(h, w[p + "post_attention_layernorm.weight"])
        gate = torch.nn.functional.silu(m @ w[p + "mlp.gate_proj.weight"].T)
        h = h + (gate * (m @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    h = rms(h, w["model.norm.weight"])
    logits = h @ w["lm_head.weight"].T
    finish(os.path.join(HERE, kind), cfg, w, [("input_ids", ids.numpy())], logits, targets)


def layer_norm(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * weight + bias


def gpt2():
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 53, "n_embd": 32, "n_layer": 2,
           "n_head": 4, "n_positions": 16, "n_inner": None, "layer_norm_epsilon": 1e-5,
           "activation_function": "gelu_new", "tie_word_embeddings": True}
    V, E, L, nh, P = 53, 32, 2, 4, 16
    d = E // nh
    w = Weights(2)
    w.new("transformer.wte.weight", (V, E))
    w.new("transformer.wpe.weight", (P, E))
    for i in range(L):
        p = f"transformer.h.{i}."
        w.new(p + "ln_1.weight", (E,), "norm")
        w.new(p + "ln_1.bias", (E,), "bias")
        w.new(p + "attn.c_attn.weight", (E, 3 * E))  # Conv1D: [in, out]
        w.new(p + "attn.c_attn.bias", (3 * E,), "bias")
        w.new(p + "attn.c_proj.weight", (E, E))
        w.new(p + "attn.c_proj.bias", (E,), "bias")
        w.new(p + "ln_2.weight", (E,), "norm")
        w.new(p + "ln_2.bias", (E,), "bias")
        w.new(p + "mlp.c_fc.weight", (E, 4 * E))
        w.new(p + "mlp.c_fc.bias", (4 * E,), "bias")
        w.new(p + "mlp.c_proj.weight", (4 * E, E))
        w.new(p + "mlp.c_proj.bias", (E,), "bias")
    w.new("transformer.ln_f.weight", (E,), "norm")
    w.new("transformer.ln_f.bias", (E,), "bias")

    g = torch.Generator().manual_seed(12)
    ids = torch.randint(0, V, (2, 11), generator=g)
    targets = torch.randint(0, V, (2, 11), generator=g)
    B, T = ids.shape
    eps = cfg["layer_norm_epsilon"]

    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    h = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(T)]
    for i in range(L):
        p = f"transformer.h.{i}."
        a = layer_norm(h, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (t.view(B, T, nh, d).transpose(1, 2) for t in qkv.split(E, dim=2))
        o = causal_attention(q, k, v, 1.0 / math.sqrt(d)).transpose(1, 2).reshape(B, T, E)
        h = h + o @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = layer_norm(h, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        m = gelu_new(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        h = h + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    h = layer_norm(h, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    logits = h @ w["transformer.wte.weight"].T  # lm_head tied to wte, as in GPT2LMHeadModel
    finish(os.path.join(HERE, "gpt2"), cfg, w, [("input_ids", ids.numpy())], logits, targets)


def bert_forward(w, cfg, ids, types, mask, prefix=""):
    H, nh, L, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["layer_norm_eps"]
    d = H // nh
    B, T = ids.shape
    e = prefix + "embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][torch.arange(T)] \
        + w[e + "token_type_embeddings.weight"][types]
    x = layer_norm(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], eps)
    ext = (1.0 - mask[:, None, None, :].double()) * torch.finfo(torch.float64).min  # HF extended attention mask
    for i in range(L):
        p = f"{prefix}encoder.layer.{i}."
        lin = lambda t, n: t @ w[p + n + ".weight"].T + w[p + n + ".bias"]
        heads = lambda t: t.view(B, T, nh, d).transpose(1, 2)
        q, k, v = heads(lin(x, "attention.self.query")), heads(lin(x, "attention.self.key")), heads(lin(x, "attention.self.value"))
        s = q @ k.transpose(-1, -2) / math.sqrt(d) + ext
        c = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, H)
        x = layer_norm(lin(c, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"], eps)
        m = lin(x, "intermediate.dense")
        m = 0.5 * m * (1.0 + torch.erf(m / math.sqrt(2.0)))  # HF "gelu" (exact, erf)
        x = layer_norm(lin(m, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    return x


def bert():
    cfg = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 47, "hidden_size": 32,
           "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 16,
           "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu", "position_embedding_type": "absolute"}
    V, H, L, I, P = 47, 32, 2, 64, 16
    w = Weights(3)
    w.new("embeddings.word_embeddings.weight", (V, H))
    w.new("embeddings.position_embeddings.weight", (P, H))
    w.new("embeddings.token_type_embeddings.weight", (2, H))
    w.new("embeddings.LayerNorm.weight", (H,), "norm")
    w.new("embeddings.LayerNorm.bias", (H,), "bias")
    for i in range(L):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            w.new(p + f"attention.self.{n}.weight", (H, H))
            w.new(p + f"attention.self.{n}.bias", (H,), "bias")
        w.new(p + "attention.output.dense.weight", (H, H))
        w.new(p + "attention.output.dense.bias", (H,), "bias")
        w.new(p + "attention.output.LayerNorm.weight", (H,), "norm")
        w.new(p + "attention.output.LayerNorm.bias", (H,), "bias")
        w.new(p + "intermediate.dense.weight", (I, H))
        w.new(p + "intermediate.dense.bias", (I,), "bias")
        w.new(p + "output.dense.weight", (H, I))
        w.new(p + "output.dense.bias", (H,), "bias")
        w.new(p + "output.LayerNorm.weight", (H,), "norm")
        w.new(p + "output.LayerNorm.bias", (H,), "bias")

    g = torch.Generator().manual_seed(13)
    ids = torch.randint(0, V, (2, 10), generator=g)
    types = torch.zeros(2, 10, dtype=torch.int64)
    types[:, 6:] = 1
    mask = torch.ones(2, 10, dtype=torch.int64)
    mask[1, 7:] = 0  # padding in the second sequence
    targets = torch.randint(0, V, (2, 10), generator=g)
    hidden = bert_forward(w, cfg, ids, types, mask)
    # A loss that reaches every weight: logits against the word embeddings (an MLM head without its transform).
    logits = hidden @ w["embeddings.word_embeddings.weight"].T
    loss_inputs = [("input_ids", ids.numpy()), ("token_type_ids", types.numpy()), ("attention_mask", mask.numpy()),
                   ("hidden", hidden.detach().numpy())]
    finish(os.path.join(HERE, "bert"), cfg, w, loss_inputs, logits, targets)


def mlp():
    cfg = {"model_type": "mlp", "layer_sizes": [7, 16, 12, 5], "hidden_act": "gelu"}
    sizes = cfg["layer_sizes"]
    w = Weights(4)
    for i in range(len(sizes) - 1):
        w.new(f"layers.{i}.weight", (sizes[i + 1], sizes[i]))
        w.new(f"layers.{i}.bias", (sizes[i + 1],), "bias")
    g = torch.Generator().manual_seed(14)
    x = torch.randn(6, sizes[0], generator=g).float().double()
    targets = torch.randint(0, sizes[-1], (6,), generator=g)
    h = x
    for i in range(len(sizes) - 1):
        h = h @ w[f"layers.{i}.weight"].T + w[f"layers.{i}.bias"]
        if i < len(sizes) - 2:
            h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
    finish(os.path.join(HERE, "mlp"), cfg, w, [("inputs", x.numpy())], h, targets)


# ---------------------------------------------------------------- MiniLM through its own ONNX graph

def run_onnx(path, feeds):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    env = {i.name: numpy_helper.to_array(i).astype(np.float64) if numpy_helper.to_array(i).dtype == np.float32
           else numpy_helper.to_array(i) for i in m.graph.initializer}
    env.update(feeds)

    def attr(n, key, default=None):
        for a in n.attribute:
            if a.name == key:
                return onnx.helper.get_attribute_value(a)
        return default

    for n in m.graph.node:
        x = [env[i] if i else None for i in n.input]
        t = n.op_type
        if t == "Constant":
            r = numpy_helper.to_array(attr(n, "value"))
            r = r.astype(np.float64) if r.dtype == np.float32 else r
        elif t == "Unsqueeze":
            axes = attr(n, "axes") if len(x) == 1 else list(x[1])
            r = x[0]
            for a in sorted(a % (r.ndim + len(axes)) for a in axes):
                r = np.expand_dims(r, a)
        elif t == "Cast":
            to = attr(n, "to")
            r = x[0].astype(np.float64 if to in (1, 11) else np.int64 if to == 7 else np.bool_ if to == 9 else np.int32)
        elif t in ("Add", "Sub", "Mul", "Div", "Pow"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power}[t]
            r = f(x[0], x[1])
            if x[0].dtype.kind == "i" and x[1].dtype.kind == "i":
                r = r.astype(np.int64)
        elif t == "Shape":
            r = np.array(x[0].shape, dtype=np.int64)
        elif t == "Gather":
            r = np.take(x[0], x[1], axis=attr(n, "axis", 0))
        elif t == "Slice":
            r = x[0]
            axes = list(x[3]) if len(x) > 3 and x[3] is not None else list(range(len(x[1])))
            steps = list(x[4]) if len(x) > 4 and x[4] is not None else [1] * len(x[1])
            sl = [slice(None)] * r.ndim
            for s, e, a, st in zip(x[1], x[2], axes, steps):
                sl[a] = slice(int(s), int(min(e, 2 ** 62)), int(st))
            r = r[tuple(sl)]
        elif t == "ReduceMean":
            r = x[0].mean(axis=tuple(attr(n, "axes")), keepdims=bool(attr(n, "keepdims", 1)))
        elif t == "Sqrt":
            r = np.sqrt(x[0])
        elif t == "Erf":
            r = np.vectorize(math.erf)(x[0])
        elif t == "Tanh":
            r = np.tanh(x[0])
        elif t == "MatMul":
            r = np.matmul(x[0], x[1])
        elif t == "Gemm":
            a = x[0].T if attr(n, "transA", 0) else x[0]
            b = x[1].T if attr(n, "transB", 0) else x[1]
            r = attr(n, "alpha", 1.0) * (a @ b) + (attr(n, "beta", 1.0) * x[2] if len(x) > 2 else 0)
        elif t == "Concat":
            r = np.concatenate(x, axis=attr(n, "axis"))
        elif t == "Reshape":
            shape = [x[0].shape[i] if s == 0 else int(s) for i, s in enumerate(x[1])]
            r = x[0].reshape(shape)
        elif t == "Transpose":
            r = np.transpose(x[0], attr(n, "perm"))
        elif t == "Softmax":
            a = attr(n, "axis", -1)
            z = np.exp(x[0] - x[0].max(axis=a, keepdims=True))
            r = z / z.sum(axis=a, keepdims=True)
        else:
            raise NotImplementedError(t)
        env[n.output[0]] = r
    return env[m.graph.output[0].name]


def minilm(onnx_path):
    ids = np.array([[101, 7592, 2088, 1010, 2023, 2003, 1037, 3231, 102],
                    [101, 3899, 23435, 2015, 102, 0, 0, 0, 0]], dtype=np.int64)
    mask = (np.arange(9)[None, :] < np.array([[9], [5]])).astype(np.int64)
    types = np.zeros_like(ids)
    hidden = run_onnx(onnx_path, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    pooled = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)  # sentence-transformers mean pooling
    folder = os.path.join(HERE, "minilm")
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, "reference.safetensors"),
                      [("input_ids", ids), ("attention_mask", mask), ("token_type_ids", types),
                       ("embeddings", pooled), ("hidden_first_tokens", hidden[:, :3, :])])
    print(f"minilm: embeddings {pooled.shape}, |e0| {np.linalg.norm(pooled[0]):.6f}")


if __name__ == "__main__":
    llama()
    llama("qwen2")
    llama("mistral")
    gpt2()
    bert()
    mlp()
    onnx_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../../src/Cartan.Cli/obj/minilm/model.onnx")
    minilm(onnx_path)
