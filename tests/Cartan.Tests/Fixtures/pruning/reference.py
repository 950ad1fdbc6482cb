#!/usr/bin/python3
"""Independent numpy reference for Cartan's pruning library (methods.md §5, oracle 9).

Run with Debian's /usr/bin/python3 (numpy): writes reference.json beside this script.
Conventions implemented here from the papers / reference repos, not from Cartan's code:
  * Wanda: S = |W| * ||X_j||_2, per output row prune int(in*s) lowest; N:M keep N largest per group of M inputs.
  * ties: lower index kept (sort by (score asc, index desc), prune the first k).
  * CVR: S = |W| * var_x^(1/4) * (colvar_W + eps)^(-alpha/2), population variances.
  * EC: column then row step with the original dense means, clamp [r_lo, r_hi], skip E'=0, re-mask.
  * SparseGPT: IST-DASLab fasterprune semantics in float64 with H = (2/n) X^T X (scale does not matter),
    dead features, 1% damping, Hinv = upper Cholesky of inv(H), blocks, per-block flattened threshold (<=),
    N:M at block-relative i % M == 0, lazy batch updates.
"""
import json
import os
import numpy as np

rng = np.random.default_rng(20260211)
OUT, IN, T = 12, 24, 300

W = rng.standard_normal((OUT, IN)) * (1 + rng.random(IN))  # columns of different spread
scale = np.exp(rng.standard_normal(IN))
shift = rng.standard_normal(IN)
X = rng.standard_normal((T, IN)) * scale + shift
X[:, 5] = 0.0  # a dead feature (zero norm, zero variance, zero Hessian diagonal)

n = T
s1 = X.sum(0)
s2 = (X * X).sum(0)
norm = np.sqrt(s2)
var = np.maximum(s2 / n - (s1 / n) ** 2, 0)


def prune_lowest(scores_row, k):
    idx = np.arange(scores_row.size)
    order = np.lexsort((-idx, scores_row))  # primary: score asc; tie: higher index first
    keep = np.ones(scores_row.size, bool)
    keep[order[:k]] = False
    return keep


def mask_per_row(S, s):
    k = int(S.shape[1] * s)
    return np.stack([prune_lowest(S[i], k) for i in range(S.shape[0])])


def mask_nm(S, N, M):
    keep = np.ones_like(S, bool)
    for i in range(S.shape[0]):
        for g in range(S.shape[1] // M):
            keep[i, g * M:(g + 1) * M] = prune_lowest(S[i, g * M:(g + 1) * M], M - N)
    return keep


def cvr_scores(W, var, alpha, eps):
    colvar = W.var(axis=0)  # population variance over the output index
    return np.abs(W) * var ** 0.25 * (colvar + eps) ** (-alpha / 2)


def ec(Wd, keep, mode, lo=1.0, hi=2.0, uncentred=False, actvar=None):
    Wp = np.where(keep, Wd, 0.0)
    rows, cols = Wd.shape
    colr = np.full(cols, np.nan)
    for j in range(cols):
        mu = 0.0 if uncentred else Wd[:, j].mean()
        E = ((Wd[:, j] - mu) ** 2).sum()
        Ep = ((Wp[:, j] - mu) ** 2).sum()
        if Ep == 0:
            continue
        r = min(max(np.sqrt(E / Ep), lo), hi)
        colr[j] = r
        Wp[:, j] = np.where(keep[:, j], mu + r * (Wp[:, j] - mu), 0.0)
    rowr = np.full(rows, np.nan)
    if mode == "col+row":
        a = np.ones(cols) if actvar is None else actvar
        for i in range(rows):
            mu = 0.0 if uncentred else Wd[i, :].mean()
            E = (((Wd[i, :] - mu) ** 2) * a).sum()
            Ep = (((Wp[i, :] - mu) ** 2) * a).sum()
            if Ep == 0:
                continue
            r = min(max(np.sqrt(E / Ep), lo), hi)
            rowr[i] = r
            Wp[i, :] = np.where(keep[i, :], mu + r * (Wp[i, :] - mu), 0.0)
    return Wp, colr, rowr


def sparsegpt(W, X, sparsity=0.0, prunen=0, prunem=0, blocksize=128, percdamp=0.01):
    W = W.copy()
    rows, cols = W.shape
    H = (2.0 / X.shape[0]) * X.T @ X
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    damp = percdamp * np.mean(np.diag(H))
    H[np.arange(cols), np.arange(cols)] += damp
    L = np.linalg.cholesky(H)
    Linv = np.linalg.inv(L)
    Hinv_full = Linv.T @ Linv
    Hinv = np.linalg.cholesky(Hinv_full).T  # upper: Hinv_full = U^T U
    keep_all = np.ones_like(W, bool)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        count = i2 - i1
        W1 = W[:, i1:i2].copy()
        Q1 = np.zeros_like(W1)
        Err1 = np.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        if prunen == 0:
            tmp = W1 ** 2 / (np.diag(Hinv1).reshape((1, -1))) ** 2
            thresh = np.sort(tmp.flatten())[int(tmp.size * sparsity)]
            mask1 = tmp <= thresh
        else:
            mask1 = np.zeros_like(W1, bool)
        for i in range(count):
            w = W1[:, i]
            d = Hinv1[i, i]
            if prunen != 0 and i % prunem == 0 and i + prunem <= count:
                tmp = W1[:, i:i + prunem] ** 2 / (np.diag(Hinv1)[i:i + prunem].reshape((1, -1))) ** 2
                for r in range(rows):
                    keep = prune_lowest(tmp[r], prunem - prunen)  # prunen here = N kept; prune M-N
                    mask1[r, i:i + prunem] = ~keep
            q = w.copy()
            q[mask1[:, i]] = 0
            Q1[:, i] = q
            err1 = (w - q) / d
            W1[:, i:] -= np.outer(err1, Hinv1[i, i:])
            Err1[:, i] = err1
        W[:, i1:i2] = Q1
        keep_all[:, i1:i2] = ~mask1
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]
    return W, keep_all


ref = {"rows": OUT, "cols": IN, "tokens": T, "W": W.ravel().tolist(), "X": X.ravel().tolist(),
       "n": n, "sum": s1.tolist(), "sumsq": s2.tolist(), "var": var.tolist(), "norm": norm.tolist(),
       "hessian": (X.T @ X).ravel().tolist()}

S_w = np.abs(W) * norm
for s in (0.5, 0.3):
    k = mask_per_row(S_w, s)
    ref[f"wanda_{s}_mask"] = k.ravel().astype(int).tolist()
    ref[f"wanda_{s}_weights"] = np.where(k, W, 0.0).ravel().tolist()
k = mask_nm(S_w, 2, 4)
ref["wanda_2_4_mask"] = k.ravel().astype(int).tolist()
k = mask_nm(S_w, 3, 5)  # 24 % 5 = 4: trailing group dense
ref["wanda_3_5_mask"] = k.ravel().astype(int).tolist()

alpha, eps = 0.7, 1e-8
S_c = cvr_scores(W, var, alpha, eps)
ref["cvr_alpha"] = alpha
ref["cvr_eps"] = eps
ref["cvr_scores"] = S_c.ravel().tolist()
kc = mask_per_row(S_c, 0.5)
ref["cvr_0.5_mask"] = kc.ravel().astype(int).tolist()
for mode in ("col", "col+row"):
    Wp, cr, rr = ec(W, kc, mode)
    ref[f"ec_{mode}_weights"] = Wp.ravel().tolist()
    ref[f"ec_{mode}_colratios"] = [None if np.isnan(v) else v for v in cr]
    ref[f"ec_{mode}_rowratios"] = [None if np.isnan(v) else v for v in rr]
Wp, _, _ = ec(W, kc, "col+row", lo=0.5, hi=3.0, uncentred=True)
ref["ec_uncentred_weights"] = Wp.ravel().tolist()
Wp, _, _ = ec(W, kc, "col+row", actvar=var)
ref["ec_actweighted_weights"] = Wp.ravel().tolist()

Wg, kg = sparsegpt(W, X, sparsity=0.5, blocksize=8)
ref["sparsegpt_0.5_b8_weights"] = Wg.ravel().tolist()
ref["sparsegpt_0.5_b8_mask"] = kg.ravel().astype(int).tolist()
Wg, kg = sparsegpt(W, X, prunen=2, prunem=4, blocksize=8)
ref["sparsegpt_2_4_b8_weights"] = Wg.ravel().tolist()
ref["sparsegpt_2_4_b8_mask"] = kg.ravel().astype(int).tolist()
Wg, kg = sparsegpt(W, X, sparsity=0.5, blocksize=128)
ref["sparsegpt_0.5_b128_weights"] = Wg.ravel().tolist()

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json"), "w") as f:
    json.dump(ref, f)
print("wrote reference.json")
