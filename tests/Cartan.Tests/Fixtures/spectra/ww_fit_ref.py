#!/usr/bin/python3
"""Independent numpy reference for Cartan's WeightWatcher-compatible tail fit.

Writes ww_fit_cases.json: seeded random heavy-tailed matrices -> singular values (numpy SVD, float64), and golden
values computed here with a plain O(n^2) numpy implementation of WW's conventions (peers.md 1.3-1.4,
peers/weightwatcher/README.md): lambda = sigma^2, drop lambda <= 1e-5, sort ascending, every value but the largest is a
candidate xmin, alpha = 1 + n / (sum(ln x[i:]) - n ln x[i]), D = max|1 - (x/xmin)^(1-alpha) - arange(n)/n| if alpha > 1
else 1, first argmin of D. Norm metrics as WW's apply_norm_metrics / matrix_entropy.
Run with Debian's /usr/bin/python3 (numpy). Deterministic: numpy.random.default_rng(seed).
"""
import json, os
import numpy as np

THRESH = 1e-5
EPS = np.finfo(np.float64).eps

def ww_fit(evals):
    x = np.sort(evals[evals > THRESH]).astype(np.float64)
    N = len(x)
    logx = np.log(x)
    alphas = np.zeros(N - 1)
    Ds = np.ones(N - 1)
    for i in range(N - 1):
        n = float(N - i)
        a = 1 + n / (np.sum(logx[i:]) - n * logx[i])
        alphas[i] = a
        if a > 1:
            Ds[i] = np.max(np.abs(1 - (x[i:] / x[i]) ** (1 - a) - np.arange(n) / n))
    i = int(np.argmin(Ds))
    return dict(alpha=float(alphas[i]), xmin=float(x[i]), D=float(Ds[i]), n_tail=int(N - i),
                num_pl_spikes=int(np.sum(evals >= x[i])), xmax=float(x[-1]))

def norm_metrics(evals, N, alpha):
    norm = np.sum(evals)
    lmax = np.max(evals)
    sv = np.sqrt(evals)
    rank = int(np.count_nonzero(sv > np.max(sv) * N * EPS))
    e2 = sv * sv
    p = e2 / np.sum(e2) + 1e-10
    entropy = -np.sum(p * np.log(p)) / np.log(rank + 1e-10)
    return dict(log_norm=float(np.log10(norm)), log_spectral_norm=float(np.log10(lmax)),
                alpha_weighted=float(alpha * np.log10(lmax)),
                log_alpha_norm=float(np.log10(np.sum([ev ** alpha for ev in evals]))),
                stable_rank=float(norm / lmax), matrix_rank=rank, entropy=float(entropy))

def main():
    rng = np.random.default_rng(20260504)
    cases = []
    specs = [  # (rows, cols, kind, param)
        (120, 60, "student_t", 3.0), (200, 80, "student_t", 2.0), (64, 64, "student_t", 4.0),
        (150, 50, "pareto", 1.5), (300, 100, "pareto", 2.5), (90, 45, "gaussian", 0.0),
        (256, 128, "student_t", 2.5), (40, 200, "pareto", 3.0), (500, 250, "student_t", 1.5),
        (128, 96, "lowrank_plus_noise", 0.0),
    ]
    for k, (m, n, kind, par) in enumerate(specs):
        if kind == "student_t":
            W = rng.standard_t(par, size=(m, n))
        elif kind == "pareto":
            W = (rng.pareto(par, size=(m, n)) + 1) * rng.choice([-1.0, 1.0], size=(m, n))
        elif kind == "gaussian":
            W = rng.standard_normal((m, n))
        else:
            W = 0.1 * rng.standard_normal((m, n)) + rng.standard_normal((m, 5)) @ rng.standard_normal((5, n))
        W = W / np.sqrt(max(m, n))
        s = np.linalg.svd(W, compute_uv=False)
        evals = s * s
        fit = ww_fit(evals)
        fit.update(norm_metrics(evals, max(m, n), fit["alpha"]))
        cases.append(dict(name=f"{kind}_{m}x{n}_{k}", rows=m, cols=n, sigma=[float(v) for v in s], golden=fit))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ww_fit_cases.json")
    with open(out, "w") as f:
        json.dump(dict(generator="ww_fit_ref.py", cases=cases), f, indent=1)
    print(f"wrote {len(cases)} cases to {out}")

if __name__ == "__main__":
    main()
