#!/usr/bin/python3
"""Writes the GGUF fixtures and golden.json for Cartan's GGUF reader tests.

Run with Debian's /usr/bin/python3 (numpy only; there is no gguf package, so the bytes are written here):

    cd tests/Cartan.Tests/Fixtures/gguf && /usr/bin/python3 make_gguf.py

Independence: the quantisers and dequantisers below are written from the block layouts of ggml
(ggml-common.h: block_q4_0 ... block_q8_K; ggml-quants.c: dequantize_row_*). The golden values are
numpy's dequantisation of the bytes written here, computed in float64 from the exact stored fields
(f16 scales widened exactly), never from Cartan's output. The quantisers are deliberately simple
(absmax / min-max per block), not llama.cpp's search; any valid block decodes the same way.

Files:
  tiny_llama.gguf  GGUF v3, one LLaMA block (hidden 256, ffn 512, 4 heads, 2 KV heads, vocab 256),
                   each 2-D weight in a different type (K-quant rows are multiples of 256), 1-D norms F32.
  all_types.gguf   GGUF v2, alignment 64, one [4,256] tensor per supported ggml type plus every
                   metadata value type including nested arrays; small enough to fuzz.
"""
import json
import struct

import numpy as np

QK_K = 256

# ggml_type ids (ggml.h)
T = dict(F32=0, F16=1, Q4_0=2, Q4_1=3, Q5_0=6, Q5_1=7, Q8_0=8, Q2_K=10, Q3_K=11, Q4_K=12, Q5_K=13,
         Q6_K=14, Q8_K=15, BF16=30)


def f16(a):
    return np.asarray(a, dtype=np.float64).astype(np.float16)


def f16w(h):
    """float16 array -> float64 (exact)"""
    return h.astype(np.float64)


def safe_div(a, b):
    b = np.where(b == 0, 1.0, b)
    return a / b


# ---------------------------------------------------------------- quantisers (rows of blocks)

def q8_0(x):
    b = x.reshape(-1, 32)
    amax = np.abs(b).max(1)
    d = f16(amax / 127)
    q = np.clip(np.round(safe_div(b, f16w(d)[:, None])), -128, 127).astype(np.int8)
    out = np.zeros((b.shape[0], 34), np.uint8)
    out[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def q4_0(x):
    b = x.reshape(-1, 32)
    idx = np.abs(b).argmax(1)
    mx = b[np.arange(b.shape[0]), idx]
    d = f16(mx / -8)
    q = np.clip(np.round(safe_div(b, f16w(d)[:, None]) + 8), 0, 15).astype(np.uint8)
    out = np.zeros((b.shape[0], 18), np.uint8)
    out[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def q4_1(x):
    b = x.reshape(-1, 32)
    mn, mx = b.min(1), b.max(1)
    d = f16((mx - mn) / 15)
    m = f16(mn)
    q = np.clip(np.round(safe_div(b - f16w(m)[:, None], f16w(d)[:, None])), 0, 15).astype(np.uint8)
    out = np.zeros((b.shape[0], 20), np.uint8)
    out[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = m.view(np.uint8).reshape(-1, 2)
    out[:, 4:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def pack_qh32(q):
    """bit j of a little-endian u32 = bit 4 of q[j], j = 0..31"""
    hb = ((q >> 4) & 1).astype(np.uint64)
    v = (hb << np.arange(32, dtype=np.uint64)).sum(1).astype(np.uint32)
    return v.view(np.uint8).reshape(-1, 4)


def q5_0(x):
    b = x.reshape(-1, 32)
    idx = np.abs(b).argmax(1)
    mx = b[np.arange(b.shape[0]), idx]
    d = f16(mx / -16)
    q = np.clip(np.round(safe_div(b, f16w(d)[:, None]) + 16), 0, 31).astype(np.uint8)
    out = np.zeros((b.shape[0], 22), np.uint8)
    out[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
    out[:, 2:6] = pack_qh32(q)
    out[:, 6:] = (q[:, :16] & 15) | ((q[:, 16:] & 15) << 4)
    return out.tobytes()


def q5_1(x):
    b = x.reshape(-1, 32)
    mn, mx = b.min(1), b.max(1)
    d = f16((mx - mn) / 31)
    m = f16(mn)
    q = np.clip(np.round(safe_div(b - f16w(m)[:, None], f16w(d)[:, None])), 0, 31).astype(np.uint8)
    out = np.zeros((b.shape[0], 24), np.uint8)
    out[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = m.view(np.uint8).reshape(-1, 2)
    out[:, 4:8] = pack_qh32(q)
    out[:, 8:] = (q[:, :16] & 15) | ((q[:, 16:] & 15) << 4)
    return out.tobytes()


def minmax_sub(b, nsub, qmax, scale_bits):
    """Shared by Q2_K/Q4_K/Q5_K: y = d*sc*q - dmin*m. Returns d, dmin (f16), sc, m (ints), q (ints)."""
    nb = b.shape[0]
    s = b.reshape(nb, nsub, -1)
    mn = np.minimum(s.min(2), 0.0)
    scale = (s.max(2) - mn) / qmax
    smax = (1 << scale_bits) - 1
    d = f16(scale.max(1) / smax)
    dmin = f16((-mn).max(1) / smax)
    sc = np.clip(np.round(safe_div(scale, f16w(d)[:, None])), 0, smax).astype(np.int64)
    m = np.clip(np.round(safe_div(-mn, f16w(dmin)[:, None])), 0, smax).astype(np.int64)
    dl = f16w(d)[:, None] * sc
    ml = f16w(dmin)[:, None] * m
    q = np.clip(np.round(safe_div(s + ml[:, :, None], dl[:, :, None])), 0, qmax).astype(np.int64)
    return d, dmin, sc, m, q.reshape(nb, -1)


def q2_k(x):
    b = x.reshape(-1, QK_K)
    nb = b.shape[0]
    d, dmin, sc, m, q = minmax_sub(b, 16, 3, 4)
    scales = (sc | (m << 4)).astype(np.uint8)
    qs = np.zeros((nb, 64), np.uint8)
    for n in range(2):
        for j in range(4):
            for l in range(32):
                qs[:, n * 32 + l] |= (q[:, n * 128 + j * 32 + l] << (2 * j)).astype(np.uint8)
    out = np.zeros((nb, 84), np.uint8)
    out[:, 0:16] = scales
    out[:, 16:80] = qs
    out[:, 80:82] = d.view(np.uint8).reshape(-1, 2)
    out[:, 82:84] = dmin.view(np.uint8).reshape(-1, 2)
    return out.tobytes()


def q3_k(x):
    b = x.reshape(-1, QK_K)
    nb = b.shape[0]
    s = b.reshape(nb, 16, 16)
    amax = np.abs(s).max(2) / 4
    d = f16(amax.max(1) / 31)
    sc = np.clip(np.round(safe_div(amax, f16w(d)[:, None])), 0, 31).astype(np.int64)  # signed scale sc, stored sc+32
    dl = f16w(d)[:, None] * sc
    q = np.clip(np.round(safe_div(s, dl[:, :, None])), -4, 3).astype(np.int64).reshape(nb, -1)
    qq = q + 4
    low, high = qq & 3, qq >> 2
    qs = np.zeros((nb, 64), np.uint8)
    hm = np.zeros((nb, 32), np.uint8)
    for n in range(2):
        for j in range(4):
            for l in range(32):
                e = n * 128 + j * 32 + l
                qs[:, n * 32 + l] |= (low[:, e] << (2 * j)).astype(np.uint8)
                hm[:, l] |= (high[:, e] << (4 * n + j)).astype(np.uint8)
    u = sc + 32  # 6-bit unsigned
    lo, hi = u & 15, u >> 4
    sb = np.zeros((nb, 12), np.uint8)
    for k in range(8):
        sb[:, k] = (lo[:, k] | (lo[:, k + 8] << 4)).astype(np.uint8)
    for k in range(4):
        sb[:, 8 + k] = (hi[:, k] | (hi[:, 4 + k] << 2) | (hi[:, 8 + k] << 4) | (hi[:, 12 + k] << 6)).astype(np.uint8)
    out = np.zeros((nb, 110), np.uint8)
    out[:, 0:32] = hm
    out[:, 32:96] = qs
    out[:, 96:108] = sb
    out[:, 108:110] = d.view(np.uint8).reshape(-1, 2)
    return out.tobytes()


def pack_k4_scales(sc, m):
    nb = sc.shape[0]
    sb = np.zeros((nb, 12), np.uint8)
    for j in range(4):
        sb[:, j] = ((sc[:, j] & 63) | ((sc[:, j + 4] >> 4) << 6)).astype(np.uint8)
        sb[:, j + 4] = ((m[:, j] & 63) | ((m[:, j + 4] >> 4) << 6)).astype(np.uint8)
        sb[:, j + 8] = ((sc[:, j + 4] & 15) | ((m[:, j + 4] & 15) << 4)).astype(np.uint8)
    return sb


def q4_k(x):
    b = x.reshape(-1, QK_K)
    nb = b.shape[0]
    d, dmin, sc, m, q = minmax_sub(b, 8, 15, 6)
    qs = np.zeros((nb, 128), np.uint8)
    for c in range(4):
        qs[:, 32 * c:32 * c + 32] = (q[:, 64 * c:64 * c + 32] | (q[:, 64 * c + 32:64 * c + 64] << 4)).astype(np.uint8)
    out = np.zeros((nb, 144), np.uint8)
    out[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = dmin.view(np.uint8).reshape(-1, 2)
    out[:, 4:16] = pack_k4_scales(sc, m)
    out[:, 16:] = qs
    return out.tobytes()


def q5_k(x):
    b = x.reshape(-1, QK_K)
    nb = b.shape[0]
    d, dmin, sc, m, q = minmax_sub(b, 8, 31, 6)
    qs = np.zeros((nb, 128), np.uint8)
    qh = np.zeros((nb, 32), np.uint8)
    for c in range(4):
        a0, a1 = q[:, 64 * c:64 * c + 32], q[:, 64 * c + 32:64 * c + 64]
        qs[:, 32 * c:32 * c + 32] = ((a0 & 15) | ((a1 & 15) << 4)).astype(np.uint8)
        qh |= (((a0 >> 4) << (2 * c)) | ((a1 >> 4) << (2 * c + 1))).astype(np.uint8)
    out = np.zeros((nb, 176), np.uint8)
    out[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = dmin.view(np.uint8).reshape(-1, 2)
    out[:, 4:16] = pack_k4_scales(sc, m)
    out[:, 16:48] = qh
    out[:, 48:] = qs
    return out.tobytes()


def q6_k(x):
    b = x.reshape(-1, QK_K)
    nb = b.shape[0]
    s = b.reshape(nb, 16, 16)
    idx = np.abs(s).argmax(2)
    mx = np.take_along_axis(s, idx[:, :, None], 2)[:, :, 0]
    sub = mx / -32  # signed sub-block scale
    d = f16(np.abs(sub).max(1) / 127)
    sc = np.clip(np.round(safe_div(sub, f16w(d)[:, None])), -128, 127).astype(np.int64)
    dl = f16w(d)[:, None] * sc
    q = np.clip(np.round(safe_div(s, dl[:, :, None])), -32, 31).astype(np.int64).reshape(nb, -1) + 32
    ql = np.zeros((nb, 128), np.uint8)
    qh = np.zeros((nb, 64), np.uint8)
    for n in range(2):
        for l in range(32):
            e = n * 128 + l
            q1, q2, q3, q4 = q[:, e], q[:, e + 32], q[:, e + 64], q[:, e + 96]
            ql[:, n * 64 + l] = ((q1 & 15) | ((q3 & 15) << 4)).astype(np.uint8)
            ql[:, n * 64 + 32 + l] = ((q2 & 15) | ((q4 & 15) << 4)).astype(np.uint8)
            qh[:, n * 32 + l] = ((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)).astype(np.uint8)
    out = np.zeros((nb, 210), np.uint8)
    out[:, 0:128] = ql
    out[:, 128:192] = qh
    out[:, 192:208] = sc.astype(np.int8).view(np.uint8)
    out[:, 208:210] = d.view(np.uint8).reshape(-1, 2)
    return out.tobytes()


def q8_k(x):
    b = x.reshape(-1, QK_K)
    nb = b.shape[0]
    d = (np.abs(b).max(1) / 127).astype(np.float32)
    q = np.clip(np.round(safe_div(b, d.astype(np.float64)[:, None])), -128, 127).astype(np.int64)
    bsums = q.reshape(nb, 16, 16).sum(2).astype(np.int16)
    out = np.zeros((nb, 292), np.uint8)
    out[:, 0:4] = d.view(np.uint8).reshape(-1, 4)
    out[:, 4:260] = q.astype(np.int8).view(np.uint8)
    out[:, 260:292] = bsums.view(np.uint8).reshape(-1, 32)
    return out.tobytes()


def bf16(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even
    return r.tobytes()


QUANT = dict(F32=lambda x: x.astype(np.float32).tobytes(), F16=lambda x: x.astype(np.float16).tobytes(), BF16=bf16,
             Q8_0=q8_0, Q4_0=q4_0, Q4_1=q4_1, Q5_0=q5_0, Q5_1=q5_1, Q2_K=q2_k, Q3_K=q3_k, Q4_K=q4_k, Q5_K=q5_k,
             Q6_K=q6_k, Q8_K=q8_k)

# ---------------------------------------------------------------- dequantisers, following dequantize_row_* loops
# Each takes the raw bytes of n elements and returns float64[n]. Scales are widened exactly to float64
# and the arithmetic is done in float64 (ggml does it in float32; the difference is one float32 rounding).


def blocks(raw, size):
    a = np.frombuffer(raw, np.uint8)
    assert a.size % size == 0
    return a.reshape(-1, size)


def half_at(bl, off):
    return bl[:, off:off + 2].copy().view(np.float16)[:, 0].astype(np.float64)


def dq_q8_0(raw):
    bl = blocks(raw, 34)
    d = half_at(bl, 0)
    return (d[:, None] * bl[:, 2:].view(np.int8).astype(np.float64)).ravel()


def dq_q4_0(raw):
    bl = blocks(raw, 18)
    d = half_at(bl, 0)
    qs = bl[:, 2:].astype(np.int64)
    x0 = (qs & 0x0F) - 8
    x1 = (qs >> 4) - 8
    return np.concatenate([d[:, None] * x0, d[:, None] * x1], 1).ravel()


def dq_q4_1(raw):
    bl = blocks(raw, 20)
    d, m = half_at(bl, 0), half_at(bl, 2)
    qs = bl[:, 4:].astype(np.int64)
    return np.concatenate([d[:, None] * (qs & 15) + m[:, None], d[:, None] * (qs >> 4) + m[:, None]], 1).ravel()


def dq_q5_0(raw):
    bl = blocks(raw, 22)
    d = half_at(bl, 0)
    qh = bl[:, 2:6].copy().view(np.uint32)[:, 0].astype(np.int64)
    qs = bl[:, 6:].astype(np.int64)
    j = np.arange(16)
    xh0 = ((qh[:, None] >> j) << 4) & 0x10
    xh1 = (qh[:, None] >> (j + 12)) & 0x10
    x0 = ((qs & 0x0F) | xh0) - 16
    x1 = ((qs >> 4) | xh1) - 16
    return np.concatenate([d[:, None] * x0, d[:, None] * x1], 1).ravel()


def dq_q5_1(raw):
    bl = blocks(raw, 24)
    d, m = half_at(bl, 0), half_at(bl, 2)
    qh = bl[:, 4:8].copy().view(np.uint32)[:, 0].astype(np.int64)
    qs = bl[:, 8:].astype(np.int64)
    j = np.arange(16)
    xh0 = ((qh[:, None] >> j) << 4) & 0x10
    xh1 = (qh[:, None] >> (j + 12)) & 0x10
    x0 = (qs & 0x0F) | xh0
    x1 = (qs >> 4) | xh1
    return np.concatenate([d[:, None] * x0 + m[:, None], d[:, None] * x1 + m[:, None]], 1).ravel()


def dq_q2_k(raw):
    bl = blocks(raw, 84)
    nb = bl.shape[0]
    scales = bl[:, 0:16].astype(np.int64)
    qs = bl[:, 16:80].astype(np.int64)
    d, mn = half_at(bl, 80), half_at(bl, 82)
    y = np.zeros((nb, QK_K))
    k = 0
    is_ = 0
    for n in range(0, QK_K, 128):
        q = qs[:, n // 4:n // 4 + 32]
        shift = 0
        for j in range(4):
            sc = scales[:, is_]; is_ += 1
            dl, ml = d * (sc & 0xF), mn * (sc >> 4)
            for l in range(16):
                y[:, k] = dl * ((q[:, l] >> shift) & 3) - ml; k += 1
            sc = scales[:, is_]; is_ += 1
            dl, ml = d * (sc & 0xF), mn * (sc >> 4)
            for l in range(16):
                y[:, k] = dl * ((q[:, l + 16] >> shift) & 3) - ml; k += 1
            shift += 2
    return y.ravel()


def dq_q3_k(raw):
    bl = blocks(raw, 110)
    nb = bl.shape[0]
    hm = bl[:, 0:32].astype(np.int64)
    qs = bl[:, 32:96].astype(np.int64)
    aux = bl[:, 96:108].copy().view(np.uint32).astype(np.int64)  # 3 words
    d_all = half_at(bl, 108)
    kmask1, kmask2 = 0x03030303, 0x0f0f0f0f
    tmp = aux[:, 2]
    a = np.zeros((nb, 4), np.int64)
    a[:, 0] = (aux[:, 0] & kmask2) | (((tmp >> 0) & kmask1) << 4)
    a[:, 1] = (aux[:, 1] & kmask2) | (((tmp >> 2) & kmask1) << 4)
    a[:, 2] = ((aux[:, 0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4)
    a[:, 3] = ((aux[:, 1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4)
    scales = a.astype(np.uint32).view(np.int8).reshape(nb, 16).astype(np.int64)
    y = np.zeros((nb, QK_K))
    k = 0
    is_ = 0
    m = 1
    for n in range(0, QK_K, 128):
        q = qs[:, n // 4:n // 4 + 32]
        shift = 0
        for j in range(4):
            dl = d_all * (scales[:, is_] - 32); is_ += 1
            for l in range(16):
                y[:, k] = dl * (((q[:, l] >> shift) & 3) - np.where(hm[:, l] & m, 0, 4)); k += 1
            dl = d_all * (scales[:, is_] - 32); is_ += 1
            for l in range(16):
                y[:, k] = dl * (((q[:, l + 16] >> shift) & 3) - np.where(hm[:, l + 16] & m, 0, 4)); k += 1
            shift += 2
            m <<= 1
    return y.ravel()


def scale_min_k4(j, q):
    if j < 4:
        return q[:, j] & 63, q[:, j + 4] & 63
    return (q[:, j + 4] & 0xF) | ((q[:, j - 4] >> 6) << 4), (q[:, j + 4] >> 4) | ((q[:, j] >> 6) << 4)


def dq_q4_k(raw):
    bl = blocks(raw, 144)
    nb = bl.shape[0]
    d, mn = half_at(bl, 0), half_at(bl, 2)
    sc = bl[:, 4:16].astype(np.int64)
    qs = bl[:, 16:].astype(np.int64)
    y = np.zeros((nb, QK_K))
    is_ = 0
    for j in range(0, QK_K, 64):
        s1, m1 = scale_min_k4(is_, sc)
        s2, m2 = scale_min_k4(is_ + 1, sc)
        q = qs[:, j // 2:j // 2 + 32]
        y[:, j:j + 32] = (d * s1)[:, None] * (q & 0xF) - (mn * m1)[:, None]
        y[:, j + 32:j + 64] = (d * s2)[:, None] * (q >> 4) - (mn * m2)[:, None]
        is_ += 2
    return y.ravel()


def dq_q5_k(raw):
    bl = blocks(raw, 176)
    nb = bl.shape[0]
    d, mn = half_at(bl, 0), half_at(bl, 2)
    sc = bl[:, 4:16].astype(np.int64)
    qh = bl[:, 16:48].astype(np.int64)
    ql = bl[:, 48:].astype(np.int64)
    y = np.zeros((nb, QK_K))
    is_ = 0
    u1, u2 = 1, 2
    for j in range(0, QK_K, 64):
        s1, m1 = scale_min_k4(is_, sc)
        s2, m2 = scale_min_k4(is_ + 1, sc)
        q = ql[:, j // 2:j // 2 + 32]
        y[:, j:j + 32] = (d * s1)[:, None] * ((q & 0xF) + np.where(qh & u1, 16, 0)) - (mn * m1)[:, None]
        y[:, j + 32:j + 64] = (d * s2)[:, None] * ((q >> 4) + np.where(qh & u2, 16, 0)) - (mn * m2)[:, None]
        is_ += 2
        u1 <<= 2
        u2 <<= 2
    return y.ravel()


def dq_q6_k(raw):
    bl = blocks(raw, 210)
    nb = bl.shape[0]
    ql_all = bl[:, 0:128].astype(np.int64)
    qh_all = bl[:, 128:192].astype(np.int64)
    sc_all = bl[:, 192:208].view(np.int8).astype(np.int64)
    d = half_at(bl, 208)
    y = np.zeros((nb, QK_K))
    for n in range(2):
        ql, qh, sc = ql_all[:, 64 * n:], qh_all[:, 32 * n:], sc_all[:, 8 * n:]
        base = 128 * n
        for l in range(32):
            is_ = l // 16
            q1 = ((ql[:, l] & 0xF) | (((qh[:, l] >> 0) & 3) << 4)) - 32
            q2 = ((ql[:, l + 32] & 0xF) | (((qh[:, l] >> 2) & 3) << 4)) - 32
            q3 = ((ql[:, l] >> 4) | (((qh[:, l] >> 4) & 3) << 4)) - 32
            q4 = ((ql[:, l + 32] >> 4) | (((qh[:, l] >> 6) & 3) << 4)) - 32
            y[:, base + l] = d * sc[:, is_] * q1
            y[:, base + l + 32] = d * sc[:, is_ + 2] * q2
            y[:, base + l + 64] = d * sc[:, is_ + 4] * q3
            y[:, base + l + 96] = d * sc[:, is_ + 6] * q4
    return y.ravel()


def dq_q8_k(raw):
    bl = blocks(raw, 292)
    d = bl[:, 0:4].copy().view(np.float32)[:, 0].astype(np.float64)
    return (d[:, None] * bl[:, 4:260].view(np.int8).astype(np.float64)).ravel()


def dq_bf16(raw):
    u = np.frombuffer(raw, np.uint16).astype(np.uint32) << 16
    return u.view(np.float32).astype(np.float64)


DEQUANT = dict(F32=lambda r: np.frombuffer(r, np.float32).astype(np.float64),
               F16=lambda r: np.frombuffer(r, np.float16).astype(np.float64), BF16=dq_bf16,
               Q8_0=dq_q8_0, Q4_0=dq_q4_0, Q4_1=dq_q4_1, Q5_0=dq_q5_0, Q5_1=dq_q5_1, Q2_K=dq_q2_k, Q3_K=dq_q3_k,
               Q4_K=dq_q4_k, Q5_K=dq_q5_k, Q6_K=dq_q6_k, Q8_K=dq_q8_k)

# ---------------------------------------------------------------- GGUF writer

GT = dict(u8=0, i8=1, u16=2, i16=3, u32=4, i32=5, f32=6, bool=7, str=8, arr=9, u64=10, i64=11, f64=12)
FMT = dict(u8='<B', i8='<b', u16='<H', i16='<h', u32='<I', i32='<i', f32='<f', bool='<?', u64='<Q', i64='<q', f64='<d')


def gstr(s):
    b = s.encode('utf-8')
    return struct.pack('<Q', len(b)) + b


def gval(kind, v):
    if kind == 'str':
        return gstr(v)
    if kind.startswith('arr:'):
        inner = kind[4:]
        head = struct.pack('<IQ', GT['arr'] if inner.startswith('arr:') else GT[inner], len(v))
        return head + b''.join(gval(inner, e) for e in v)
    return struct.pack(FMT[kind], v)


def write_gguf(path, version, kvs, tensors, alignment=32):
    """kvs: list of (key, kind, value); tensors: list of (name, shape[out,...,in], type name, values float64)."""
    out = bytearray(b'GGUF')
    out += struct.pack('<IQQ', version, len(tensors), len(kvs))
    for key, kind, v in kvs:
        out += gstr(key)
        top = 'arr' if kind.startswith('arr:') else kind
        out += struct.pack('<I', GT[top]) + gval(kind, v)
    datas = []
    offset = 0
    for name, shape, tname, vals in tensors:
        raw = QUANT[tname](vals.ravel())
        ne = list(reversed(shape))  # ne0 = fastest-varying = row length
        out += gstr(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', n) for n in ne)
        out += struct.pack('<IQ', T[tname], offset)
        datas.append((offset, raw))
        offset += len(raw)
        offset = (offset + alignment - 1) // alignment * alignment
    pad = (-len(out)) % alignment
    out += b'\0' * pad
    start = len(out)
    for off, raw in datas:
        out += b'\0' * (start + off - len(out))
        out += raw
    with open(path, 'wb') as f:
        f.write(out)
    return [(name, shape, tname, raw) for (name, shape, tname, _), (_, raw) in zip(tensors, datas)]


def golden_for(written):
    g = {}
    for name, shape, tname, raw in written:
        y = DEQUANT[tname](raw)
        n = int(np.prod(shape))
        assert y.size == n, (name, y.size, n)
        w = (np.arange(n) % 97 + 1).astype(np.float64)
        e = dict(type=tname, shape=list(shape), sum=float(y.sum()), sumsq=float((y * y).sum()),
                 wsum=float((y * w).sum()), first=[float(v) for v in y[:8]], last=float(y[-1]))
        if len(shape) == 2:
            s = np.linalg.svd(y.reshape(shape), compute_uv=False)
            e['sv'] = [float(v) for v in s[:10]]
        g[name] = e
    return g


def weights(rng, rows, cols, rank=4, scale=0.05):
    lr = rng.standard_normal((rows, rank)) @ rng.standard_normal((rank, cols)) * (0.5 / np.sqrt(cols))
    return rng.standard_normal((rows, cols)) * scale + lr + rng.standard_normal(cols) * 0.01


def main():
    rng = np.random.default_rng(20240607)
    H, F, V, NH, NKV = 256, 512, 256, 4, 2
    hd = H // NH
    tok = ['<unk>', '<s>', '</s>'] + ['t%d' % i for i in range(V - 3)]
    kvs = [('general.architecture', 'str', 'llama'), ('general.name', 'str', 'cartan-tiny-llama'),
           ('general.file_type', 'u32', 1),
           ('llama.context_length', 'u32', 128), ('llama.embedding_length', 'u32', H),
           ('llama.block_count', 'u32', 1), ('llama.feed_forward_length', 'u32', F),
           ('llama.rope.dimension_count', 'u32', hd), ('llama.attention.head_count', 'u32', NH),
           ('llama.attention.head_count_kv', 'u32', NKV),
           ('llama.attention.layer_norm_rms_epsilon', 'f32', 1e-5),
           ('tokenizer.ggml.model', 'str', 'llama'), ('tokenizer.ggml.tokens', 'arr:str', tok),
           ('tokenizer.ggml.scores', 'arr:f32', [float(-i) for i in range(V)]),
           ('tokenizer.ggml.bos_token_id', 'u32', 1)]
    llama = [('token_embd.weight', [V, H], 'Q6_K'),
             ('blk.0.attn_norm.weight', [H], 'F32'),
             ('blk.0.attn_q.weight', [H, H], 'Q4_K'),
             ('blk.0.attn_k.weight', [NKV * hd, H], 'Q5_K'),
             ('blk.0.attn_v.weight', [NKV * hd, H], 'Q3_K'),
             ('blk.0.attn_output.weight', [H, H], 'Q2_K'),
             ('blk.0.ffn_norm.weight', [H], 'F32'),
             ('blk.0.ffn_gate.weight', [F, H], 'Q4_0'),
             ('blk.0.ffn_up.weight', [F, H], 'Q5_1'),
             ('blk.0.ffn_down.weight', [H, F], 'Q8_0'),
             ('output_norm.weight', [H], 'F32'),
             ('output.weight', [V, H], 'F16')]
    tensors = []
    for name, shape, tname in llama:
        vals = 1.0 + 0.1 * rng.standard_normal(shape) if len(shape) == 1 else weights(rng, *shape)
        tensors.append((name, shape, tname, vals))
    w1 = write_gguf('tiny_llama.gguf', 3, kvs, tensors)

    kv2 = [('general.architecture', 'str', 'cartan-test'), ('general.alignment', 'u32', 64),
           ('t.u8', 'u8', 200), ('t.i8', 'i8', -100), ('t.u16', 'u16', 60000), ('t.i16', 'i16', -30000),
           ('t.u32', 'u32', 4000000000), ('t.i32', 'i32', -2000000000), ('t.f32', 'f32', 1.5),
           ('t.bool', 'bool', True), ('t.str', 'str', 'héllo'), ('t.u64', 'u64', 2 ** 63 + 5),
           ('t.i64', 'i64', -2 ** 62), ('t.f64', 'f64', 2.25), ('t.arr_i32', 'arr:i32', [1, -2, 3]),
           ('t.nested', 'arr:arr:u8', [[1, 2], [], [3]]), ('t.empty_str_arr', 'arr:str', [])]
    types = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'Q8_K']
    t2 = [('w.%s' % t.lower(), [4, 256], t, weights(rng, 4, 256, rank=2)) for t in types]
    t2.append(('bias.f32', [7], 'F32', rng.standard_normal(7)))
    t2.append(('cube.f16', [2, 3, 32], 'F16', rng.standard_normal((2, 3, 32))))
    w2 = write_gguf('all_types.gguf', 2, kv2, t2, alignment=64)

    golden = {'tiny_llama.gguf': golden_for(w1), 'all_types.gguf': golden_for(w2)}
    # Sanity: the simple quantisers reproduce the source weights (so the blocks are meaningful).
    for (name, shape, tname, vals), (_, _, _, raw) in zip(tensors, w1):
        y = DEQUANT[tname](raw).reshape(shape)
        rel = np.linalg.norm(y - vals) / np.linalg.norm(vals)
        assert rel < 0.5, (name, tname, rel)
        print('%-28s %-5s rel.err %.4f' % (name, tname, rel))
    with open('golden.json', 'w') as f:
        json.dump(golden, f, indent=1)


if __name__ == '__main__':
    main()
