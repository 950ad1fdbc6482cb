#!/usr/bin/python3
"""Independent reference for Cartan's likelihood ratios (src/Cartan/Spectra/LikelihoodRatio.cs).

Writes llr_cases.json: ESD tails (x >= xmin, xmin from the WW/Clauset scan done here in numpy, O(n^2)) of
  * real weights: layers of ../safetensors/langdetect/langdetect.safetensors and ../ww/resnet_mini.safetensors
    (conv: pooled per-tap ESD, lambda = sigma^2/2, WW's convention), read with an own safetensors reader;
  * synthetic samples (seeded): Pareto, log-normal, power law with exponential cutoff, exponential;
and for each the power law vs truncated power law (nested, p = P(chi2_1 > 2|R|)) and vs log-normal (Vuong,
p = erfc(|R|/sqrt(2 n var))), R = sum(ln p_PL - ln p_alt), with the alternatives fitted by maximum likelihood on the
same compact domain as Cartan (lambda in [1e-10/xmax, 1e4/xmin], |alpha| <= 50; mu in [ln xmin - 30, ln xmax + 30],
sigma in [1e-3, 30]).
Independent of the C# code in every numerical part: the truncated power law's normaliser is the integral
int_xmin^inf x^-a e^(-l x) dx by composite Gauss-Legendre quadrature in t = ln(x/xmin) (no incomplete gamma), the
log-normal's is mpmath's erfc, and the optimiser is scipy's Nelder-Mead (restarted) polished by scipy's Powell, and on a mu face of the
log-normal's domain by scipy's bounded Brent in ln sigma (Cartan: golden section).
Run with Debian's /usr/bin/python3 (numpy, scipy, mpmath).
"""
import json, os, struct
import numpy as np
import mpmath
from scipy.optimize import minimize, minimize_scalar

HERE = os.path.dirname(os.path.abspath(__file__))
GL_X, GL_W = np.polynomial.legendre.leggauss(32)


def read_st(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    h = json.loads(data[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__" or v["dtype"] != "F32":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[8 + n + a:8 + n + b], "<f4").astype(np.float64).reshape(v["shape"])
    return out


def esd(w):
    if w.ndim == 4:  # conv (out, in, kh, kw): per-tap matrices pooled, lambda = sigma^2 / 2
        return np.concatenate([np.linalg.svd(w[:, :, i, j], compute_uv=False) ** 2 / 2
                               for i in range(w.shape[2]) for j in range(w.shape[3])])
    return np.linalg.svd(w, compute_uv=False) ** 2


def ww_tail(evals):
    x = np.sort(evals[evals > 1e-5])
    N = len(x)
    lx = np.log(x)
    best, bestD = None, np.inf
    for i in range(N - 1):
        n = N - i
        a = 1 + n / (np.sum(lx[i:]) - n * lx[i])
        D = np.max(np.abs(1 - (x[i:] / x[i]) ** (1 - a) - np.arange(n) / n)) if a > 1 else 1.0
        if D < bestD:
            best, bestD = i, D
    return x[best:], x[best]


def log_tpl_norm(a, lam, xmin):
    """ln int_xmin^inf x^-a e^(-lam x) dx = (1-a) ln xmin + ln int_0^T exp((1-a) t - lam xmin e^t) dt."""
    z = lam * xmin
    T = max(np.log(800.0 / z), 1.0) + 2.0
    edges = np.linspace(0.0, T, 301)
    lo, hi = edges[:-1, None], edges[1:, None]
    t = (0.5 * (hi - lo) * GL_X[None, :] + 0.5 * (hi + lo)).ravel()
    w = (0.5 * (hi - lo) * GL_W[None, :]).ravel()
    g = (1 - a) * t - z * np.exp(t)
    m = g.max()
    return (1 - a) * np.log(xmin) + m + np.log(np.sum(w * np.exp(g - m)))


def fit(neg, starts):
    best = None
    for s in starts:
        if not np.isfinite(neg(np.array(s))):
            continue
        r = minimize(neg, s, method="Nelder-Mead", options=dict(xatol=1e-11, fatol=1e-14, maxiter=6000, maxfev=6000))
        for _ in range(3):
            r2 = minimize(neg, r.x, method="Nelder-Mead", options=dict(xatol=1e-11, fatol=1e-14, maxiter=6000, maxfev=6000))
            if r2.fun >= r.fun - 1e-14:
                break
            r = r2
        r3 = minimize(neg, r.x, method="Powell", options=dict(xtol=1e-11, ftol=1e-15, maxiter=2000))
        if r3.fun < r.fun:
            r = r3
        if best is None or r.fun < best.fun:
            best = r
    return best.x


def compare(x, xmin):
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    lx = np.log(x)
    lxmin, xmax = np.log(xmin), x.max()
    alpha = 1 + n / np.sum(lx - lxmin)
    pl = np.log(alpha - 1) - lxmin - alpha * (lx - lxmin)

    llo, lhi = np.log(1e-10 / xmax), np.log(1e4 / xmin)

    def tpl_neg(p):
        a, ll = p
        if abs(a) > 50 or ll < llo or ll > lhi:
            return np.inf
        lam = np.exp(ll)
        return -np.sum(-log_tpl_norm(a, lam, xmin) - a * lx - lam * x)

    mx = x.mean()
    ta, tll = fit(tpl_neg, [[alpha, max(llo + np.log(10), np.log(1e-3 / mx))], [alpha, np.log(1 / mx)], [1.0, np.log(1 / mx)], [alpha, llo + 1]])
    tlam = np.exp(tll)
    tpl = -log_tpl_norm(ta, tlam, xmin) - ta * lx - tlam * x

    def ln_q(mu, s):
        return float(mpmath.log(mpmath.erfc((lxmin - mu) / (s * mpmath.sqrt(2))) / 2))

    def ln_neg(p):
        mu, s = p[0], np.exp(p[1])
        if mu < lxmin - 30 or mu > np.log(xmax) + 30 or s < 1e-3 or s > 30:
            return np.inf
        z = (lx - mu) / s
        return -(np.sum(-lx - np.log(s) - 0.5 * np.log(2 * np.pi) - 0.5 * z * z) - n * ln_q(mu, s))

    m, sd = lx.mean(), max(lx.std(), 1e-6)
    cl = lambda v: np.log(min(max(v, 2e-3), 15))
    mu, ls = fit(ln_neg, [[m, cl(sd)], [lxmin, cl(2 * sd)], [lxmin - 2, cl(4 * sd)], [lxmin - 10, cl(8 * sd)]])
    # On a mu face of the domain (log-normal degenerating into a power law) finish the 1-D optimum in ln sigma (Brent).
    for face in (lxmin - 30, np.log(xmax) + 30):
        if abs(mu - face) <= 1e-3:
            lo, hi = max(np.log(1e-3), ls - 1), min(np.log(30), ls + 1)
            r = minimize_scalar(lambda t: ln_neg(np.array([face, t])), bounds=(lo, hi), method="bounded", options=dict(xatol=1e-13))
            if r.fun <= ln_neg(np.array([mu, ls])):
                mu, ls = face, r.x
    s = np.exp(ls)
    lnl = -lx - np.log(s) - 0.5 * np.log(2 * np.pi) - 0.5 * ((lx - mu) / s) ** 2 - ln_q(mu, s)

    def test(l2, nested):
        d = pl - l2
        R = float(np.sum(d))
        var = float(np.mean((d - d.mean()) ** 2))
        if nested:
            p = float(mpmath.erfc(mpmath.sqrt(abs(R))))
        else:
            p = float(mpmath.erfc(abs(R) / mpmath.sqrt(2 * n * var))) if var > 0 else 1.0
        return R, p

    R1, p1 = test(tpl, True)
    R2, p2 = test(lnl, False)
    return dict(alpha=float(alpha), tpl=dict(R=R1, p=p1, alpha=float(ta), **{"lambda": float(tlam)}),
                lognormal=dict(R=R2, p=p2, mu=float(mu), sigma=float(s)))


def main():
    cases = []
    lang = read_st(os.path.join(HERE, "..", "safetensors", "langdetect", "langdetect.safetensors"))
    for k in ["dnn/hiddenlayer_0/kernel", "dnn/hiddenlayer_1/kernel", "dnn/logits/kernel", "linear/linear_model/content/weights"]:
        cases.append(("langdetect:" + k, esd(lang[k])))
    res = read_st(os.path.join(HERE, "..", "ww", "resnet_mini.safetensors"))
    for k in ["fc.weight", "layer2.0.conv2.weight", "layer3.0.downsample.0.weight"]:
        cases.append(("resnet_mini:" + k, esd(res[k])))
    rng = np.random.default_rng(5)
    cases.append(("pareto a=2.5 n=300", 0.5 * (1 - rng.random(300)) ** (-1 / 1.5)))
    cases.append(("lognormal mu=0 s=1 n=400", np.exp(rng.normal(0, 1, 400))))
    cases.append(("exponential n=300", 0.1 + rng.exponential(1.0, 300)))
    # power law with exponential cutoff by rejection: x^-1.8 e^(-x/20), x >= 1
    xs = []
    while len(xs) < 300:
        v = (1 - rng.random()) ** (-1 / 0.8)
        if rng.random() < np.exp(-v / 20):
            xs.append(v)
    cases.append(("cutoff a=1.8 l=0.05 n=300", np.array(xs)))

    out = []
    for name, ev in cases:
        tail, xmin = ww_tail(ev)
        r = compare(tail, xmin)
        out.append(dict(name=name, xmin=float(xmin), tail=[float(v) for v in tail], **r))
        print(name, len(tail), r, flush=True)
    with open(os.path.join(HERE, "llr_cases.json"), "w") as f:
        json.dump(dict(generator="llr_ref.py", cases=out), f, indent=1)


if __name__ == "__main__":
    main()
