#!/usr/bin/python3
"""Function-preserving outlier channels for a LLaMA-style safetensors model (numpy only; independent of Cartan).

usage: reparam.py MODEL_DIR OUT_DIR [--scale S] [--hidden K] [--values K] [--inner K] [--seed N]

Per block, with seeded random channel choices and a factor s:
  1. input_layernorm.weight[c] *= s on K hidden channels c, and q/k/v_proj[:, c] /= s;
  2. post_attention_layernorm.weight[c] *= s on K hidden channels, and gate/up_proj[:, c] /= s;
  3. v_proj[r, :] *= s on K value rows r, and o_proj[:, j] /= s on every attention-output column j that reads row r
     (GQA: the query heads of r's key/value group, same head dimension);
  4. up_proj[r, :] *= s on K intermediate rows r, and down_proj[:, r] /= s (SwiGLU's output is linear in up).
Each step multiplies an activation channel by s and divides the weights that read it by s, so the network computes
the same function (up to float32 rounding) while those inputs become s-times outliers, as in large LLMs. Magnitude
pruning is not invariant to this; Wanda's |W_ij|·‖X_j‖ is.
"""
import json, os, shutil, sys
import numpy as np

# The numpy safetensors reader/writer shared with the reference scripts of the Torch tests.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'tests', 'Cartan.Torch.Tests', 'Fixtures'))
from safetensors_writer import read_safetensors, write_safetensors  # noqa: E402

def main():
    args = sys.argv[1:]
    src, out = args[0], args[1]
    opt = dict(zip(args[2::2], args[3::2]))
    s = float(opt.get('--scale', 20)); kh = int(opt.get('--hidden', 8)); kv = int(opt.get('--values', 4))
    ki = int(opt.get('--inner', 16)); rng = np.random.default_rng(int(opt.get('--seed', 0)))
    cfg = json.load(open(os.path.join(src, 'config.json')))
    H, G = cfg['num_attention_heads'], cfg['num_key_value_heads']
    hd = cfg.get('head_dim') or cfg['hidden_size'] // H
    t = read_safetensors(os.path.join(src, 'model.safetensors'))
    log = []
    for b in range(cfg['num_hidden_layers']):
        p = f'model.layers.{b}.'
        c1 = rng.choice(cfg['hidden_size'], kh, replace=False)
        t[p + 'input_layernorm.weight'][c1] *= s
        for n in ('q_proj', 'k_proj', 'v_proj'):
            t[p + f'self_attn.{n}.weight'][:, c1] /= s
        c2 = rng.choice(cfg['hidden_size'], kh, replace=False)
        t[p + 'post_attention_layernorm.weight'][c2] *= s
        for n in ('gate_proj', 'up_proj'):
            t[p + f'mlp.{n}.weight'][:, c2] /= s
        rv = rng.choice(G * hd, kv, replace=False)
        t[p + 'self_attn.v_proj.weight'][rv, :] *= s
        for r in rv:
            g, d = divmod(int(r), hd)
            for qh in range(g * (H // G), (g + 1) * (H // G)):
                t[p + 'self_attn.o_proj.weight'][:, qh * hd + d] /= s
        ri = rng.choice(cfg['intermediate_size'], ki, replace=False)
        t[p + 'mlp.up_proj.weight'][ri, :] *= s
        t[p + 'mlp.down_proj.weight'][:, ri] /= s
        log.append({'block': b, 'input_norm_channels': c1.tolist(), 'post_norm_channels': c2.tolist(),
                    'value_rows': rv.tolist(), 'inner_rows': ri.tolist()})
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(src):
        if f != 'model.safetensors' and os.path.isfile(os.path.join(src, f)):
            shutil.copy(os.path.join(src, f), os.path.join(out, f))
    write_safetensors(os.path.join(out, 'model.safetensors'), list(t.items()))
    json.dump({'scale': s, 'hidden': kh, 'values': kv, 'inner': ki, 'seed': int(opt.get('--seed', 0)), 'blocks': log},
              open(os.path.join(out, 'reparam.json'), 'w'), indent=1)

if __name__ == '__main__':
    main()
