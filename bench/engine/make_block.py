#!/usr/bin/python3
"""Writes one LLaMA-2-7B-shaped decoder block with random weights (seeded) as F16 safetensors + config.json:
hidden 4096, 32 heads, MLP 11008. usage: make_block.py OUT_DIR. Debian's /usr/bin/python3 with numpy."""
import json, os, struct, sys
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
d, ff = 4096, 11008
shapes = [("self_attn.q_proj", (d, d)), ("self_attn.k_proj", (d, d)), ("self_attn.v_proj", (d, d)), ("self_attn.o_proj", (d, d)),
          ("mlp.gate_proj", (ff, d)), ("mlp.up_proj", (ff, d)), ("mlp.down_proj", (d, ff))]
header, blobs, off = {}, [], 0
for name, shape in shapes:
    a = (rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[1])).astype("<f2")
    b = a.tobytes()
    header[f"model.layers.0.{name}.weight"] = {"dtype": "F16", "shape": list(shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h)
    for b in blobs: f.write(b)
json.dump({"model_type": "llama", "hidden_size": d, "intermediate_size": ff, "num_attention_heads": 32,
           "num_key_value_heads": 32, "num_hidden_layers": 32}, open(os.path.join(out, "config.json"), "w"))
print(f"wrote {off / 2**20:.0f} MiB")
