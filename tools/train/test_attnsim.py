#!/usr/bin/env python3
"""Checks tools/train/attnsim.py on the CPU (any torch): python3 tools/train/test_attnsim.py

Each mode against a reference written from the definitions with loops over queries, keys and blocks
(numpy float64, the engine's dim order taken index by index), causality, GQA against repeated heads, the
exp table, and that training (gradients on) sees the same forward values and finite gradients."""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim  # noqa: E402

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def ref_q8(row):
    """One block of 32 values -> (integers, d), from the definition."""
    d = np.abs(row).max() / 127
    if d == 0:
        return np.zeros_like(row), 0.0
    return np.clip(np.round(row / d), -127, 127), d


def reference(q, k, v, scaling, mode):
    """q [H, S, D], k and v [KVH, S, D] (HF layout), float64 -> [S, H, D]."""
    H, S, D = q.shape
    rep = H // k.shape[0]
    half = D // 2
    eng = [j * half + i for i in range(half) for j in range(2)]  # engine dim 2i + j <- HF dim j*hd/2 + i
    out = np.zeros((S, H, D))
    for h in range(H):
        g = h // rep
        for i in range(S):
            s = np.full(S, -np.inf)
            qe = q[h, i, eng]
            for j in range(i + 1):
                ke = k[g, j, eng]
                acc = 0.0
                for b in range(0, D, 32):
                    qi, dq = ref_q8(qe[b:b + 32])
                    ki, dk = ref_q8(ke[b:b + 32])
                    acc += float(np.dot(qi, ki)) * dq * dk
                s[j] = acc * scaling
            m = s[:i + 1].max()
            if mode == "qkv8e":
                w = np.zeros(S)
                for j in range(i + 1):
                    kk = round((m - s[j]) * attnsim.EXP_STEPS)
                    w[j] = math.exp(-kk / attnsim.EXP_STEPS) if kk < attnsim.EXP_TABLE else 0.0
            else:
                w = np.where(np.arange(S) <= i, np.exp(s - m), 0.0)
            p = w / w.sum()
            if mode == "qk8":
                out[i, h] = p @ v[g]
                continue
            for b in range(0, D, 32):
                vq = np.zeros((S, 32))
                dv = np.zeros(S)
                for j in range(S):
                    vq[j], dv[j] = ref_q8(v[g, j, b:b + 32])
                u = p * dv
                e = u.max() / 255
                uq = np.round(u / e) if e > 0 else np.zeros(S)
                out[i, h, b:b + 32] = e * (uq @ vq)
    return out


def main():
    torch.manual_seed(7)
    B, H, KVH, S, D = 2, 6, 2, 13, 64
    scaling = D ** -0.5
    q = torch.randn(B, H, S, D) * 2
    k = torch.randn(B, KVH, S, D) * 2
    v = torch.randn(B, KVH, S, D)
    q[0, 1, 3, :32] = 0  # an all-zero block: d = 0
    v[1, 0, 2, 32:] = 0

    x = torch.arange(2 * 64.).reshape(2, 64)
    e = attnsim.engine_order(x)
    check(all(e[r, 2 * i + j] == x[r, j * 32 + i] for r in range(2) for i in range(32) for j in range(2)),
          "engine_order: engine dim 2i+j is HF dim j*32+i")
    qq, dd = attnsim.q8_split(q)
    check(bool((qq == qq.round()).all()) and float(qq.abs().max()) <= 127 and
          torch.equal(attnsim.q8(q), (qq * dd).reshape(q.shape)), "q8_split: integers in +-127, q8 = q * d")
    t = attnsim.exp_table("cpu")
    check(t.shape == (attnsim.EXP_TABLE,) and float(t[0]) == 1.0 and
          abs(float(t[32]) - math.exp(-1)) < 1e-7 and bool((t[1:] < t[:-1]).all()), "exp table: exp(-k/32)")

    for mode in attnsim.MODES[1:]:
        with torch.no_grad():
            got = attnsim.attention(q, k, v, scaling, mode)
        check(got.shape == (B, S, H, D) and got.dtype == torch.float32, f"{mode}: shape [B, S, H, D] float32")
        err = max(float(np.abs(got[bb].double().numpy() -
                               reference(q[bb].double().numpy(), k[bb].double().numpy(),
                                         v[bb].double().numpy(), scaling, mode)).max()) for bb in range(B))
        check(err < 2e-5, f"{mode}: against the loop reference, max abs difference {err:.2e}")

        q2, k2, v2 = q.clone(), k.clone(), v.clone()
        q2[:, :, 9:], k2[:, :, 9:], v2[:, :, 9:] = 5, -3, 7
        with torch.no_grad():
            got2 = attnsim.attention(q2, k2, v2, scaling, mode)
        check(torch.equal(got[:, :9], got2[:, :9]), f"{mode}: causal (later positions change nothing before)")

        with torch.no_grad():
            full = attnsim.attention(q, k.repeat_interleave(3, 1), v.repeat_interleave(3, 1), scaling, mode)
        check(torch.equal(got, full), f"{mode}: 2 kv heads equal the same heads repeated (GQA)")

        qg, kg, vg = (t.clone().requires_grad_() for t in (q, k, v))
        out = attnsim.attention(qg, kg, vg, scaling, mode)
        (out * torch.randn_like(out)).sum().backward()
        fin = all(t.grad is not None and bool(torch.isfinite(t.grad).all()) and float(t.grad.abs().sum()) > 0
                  for t in (qg, kg, vg))
        diff = float((out.detach() - got).abs().max())
        check(fin and diff < 1e-5, f"{mode}: with gradients the same forward (max {diff:.1e}), finite gradients")

    try:
        attnsim.attention(q, k[:, :, :5], v[:, :, :5], scaling, "qk8")
        check(False, "fewer keys than queries refused")
    except RuntimeError:
        check(True, "fewer keys than queries refused")
    print("attnsim: " + ("PASS" if not FAILS else f"FAIL ({len(FAILS)})"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
