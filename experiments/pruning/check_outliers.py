#!/usr/bin/python3
"""Independent check of `PruningDriver outliers` (driver/Outliers.cs): recomputes every column of outliers.tsv from the
calibration statistics it wrote (stats.npz: KEY.sumsq per input feature) and the model's weights, with numpy and scipy
(Debian's /usr/bin/python3), and compares.
    /usr/bin/python3 experiments/pruning/check_outliers.py models/tiny-brown-lm DIR   (DIR holds outliers.tsv, stats.npz)
"""
import json, struct, sys
import numpy as np
from scipy.stats import spearmanr

model, d = sys.argv[1], sys.argv[2]
raw = open(f"{model}/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
def weight(name):
    h = header[name]
    s, e = h["data_offsets"]
    assert h["dtype"] == "F32", h["dtype"]
    return np.frombuffer(raw[8 + n + s:8 + n + e], dtype=np.float32).reshape(h["shape"]).astype(np.float64)

stats = np.load(f"{d}/stats.npz")
rows = [l.split("\t") for l in open(f"{d}/outliers.tsv").read().splitlines()]
cols = {c: i for i, c in enumerate(rows[0])}
worst = 0.0
for r in rows[1:]:
    name = r[cols["tensor"]]
    norms = np.sqrt(stats[name + ".sumsq"])
    med = np.median(norms)
    w = weight(name)                      # [out, in]: LLaMA stores nn.Linear weights as [out, in]
    assert w.shape[1] == norms.size
    score = np.abs(w) * norms[None, :]
    k = w.shape[1] // 2                   # 50 % per row: the k smallest of each row are pruned
    def mask(s):
        m = np.ones_like(s, dtype=bool)
        order = np.argsort(s, axis=1, kind="stable")
        np.put_along_axis(m, order[:, :k], False, axis=1)
        return m
    want = {
        "max_over_median": norms.max() / med,
        "p99_over_median": np.percentile(norms, 99) / med,
        "outlier_fraction": np.mean(norms > 6 * med),
        "spearman_wanda_vs_abs_w": spearmanr(score.ravel(), np.abs(w).ravel()).correlation,
        "mask_disagreement": np.mean(mask(score) != mask(np.abs(w))),
    }
    for c, v in want.items():
        got = float(r[cols[c]])
        diff = abs(got - v)
        worst = max(worst, diff)
        assert diff <= 1e-9 * max(1.0, abs(v)), f"{name} {c}: C# {got} vs numpy {v}"
print(f"{len(rows) - 1} matrices, 5 columns each: all agree (max |diff| {worst:.2e})")
