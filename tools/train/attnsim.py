"""Integer attention, simulated in PyTorch, to price it before the engine has it (qat.py --attention).

The engine's attention is float (doc/engine.md); an exact integer one on tensor cores would be:
  qk8    q and k after RoPE rounded per block of 32 head dims as the activations are (d = amax/127,
         q = round(x/d), clamp +-127), scores = q8(q) . q8(k) * scaling; softmax and p.v in float;
  qkv8   as qk8, and v rounded per block of 32 (per position) the same way; the normalised attention
         weights folded with v's block scales and rounded to 8 unsigned bits per (query, block):
         u_j = p_j dv_jb, e_b = max_j u_j / 255, out_bi = e_b sum_j round(u_j / e_b) vq_jbi
         (what an exact u8 x s8 p.v computes);
  qkv8e  as qkv8, exp(s - m) taken as exp(-k/32) with k = round((m - s) * 32), 0 for k >= 640 (a
         640-entry table).
The blocks of 32 are those of the engine's layout of q and k (GGUF's RoPE pairs 2i, 2i+1), not HF's.
Float32 throughout: the q.k block sums of integers are exact (below 2^24); the u8 x s8 sums can reach
3.3e7, where float32 keeps them to a relative 6e-8.
With gradients enabled (training) every rounding passes the gradient straight through (STE); without,
the forward values are the rounded ones exactly.
"""
import math

import torch

MODES = ("float", "qk8", "qkv8", "qkv8e")
EXP_STEPS = 32    # qkv8e: exp(-x) taken at x = k / EXP_STEPS ...
EXP_TABLE = 640   # ... for k < EXP_TABLE; 0 beyond (exp(-20) < 2.1e-9)


def q8_split(x):
    """Q8_0 rounding along the last axis in blocks of 32, integers and scales apart:
    (q [..., n/32, 32] holding integers in [-127, 127], d [..., n/32, 1] = amax/127), float32."""
    b = x.float().reshape(*x.shape[:-1], -1, 32)
    d = b.abs().amax(-1, keepdim=True) / 127
    q = torch.where(d > 0, torch.round(b / torch.where(d > 0, d, torch.ones_like(d))),
                    torch.zeros_like(b)).clamp(-127, 127)
    return q, d


def q8(x):
    """q8_split's rounding as values, shaped like x (float32)."""
    q, d = q8_split(x)
    return (q * d).reshape(x.shape)


def engine_order(x):
    """The last axis (a head) from HF's rotate-halves layout, dim j*hd/2 + i, to the engine's (GGUF's)
    pairs, dim 2i + j (tools/train/qat.py's unpermute, per head)."""
    return x.reshape(*x.shape[:-1], 2, x.shape[-1] // 2).transpose(-1, -2).reshape(x.shape)


def ste_value(x, fx):
    """fx exactly where nothing is differentiated; else fx as value with the gradient of x."""
    return fx if not torch.is_grad_enabled() else x + (fx - x).detach()


_exp_tables = {}


def exp_table(device):
    """exp(-k / EXP_STEPS) = 2^(-k/EXP_STEPS * log2 e) for k < EXP_TABLE, float32 on device."""
    key = str(device)
    if key not in _exp_tables:
        k = torch.arange(EXP_TABLE, dtype=torch.float64)
        _exp_tables[key] = torch.exp2(-k / EXP_STEPS * math.log2(math.e)).float().to(device)
    return _exp_tables[key]


def attention(query, key, value, scaling, mode):
    """Causal attention of one window with no cache and no padding, the way `mode` (not float) computes it.
    query [batch, heads, seq, hd], key and value [batch, kv heads, seq, hd] (heads a multiple of kv heads,
    query head h reads kv head h // (heads / kv heads), as HF's repeat_kv), after RoPE, HF layout; hd a
    multiple of 32. -> [batch, seq, heads, hd] float32."""
    if mode not in MODES[1:]:
        raise ValueError(f"attention simulation: mode {mode!r} is not one of {MODES[1:]}")
    B, H, S, D = query.shape
    if key.shape[2] != S or value.shape != key.shape or D % 32 or H % key.shape[1]:
        raise RuntimeError(f"attention simulation: needs one causal window (as many keys as queries), head dim "
                           f"a multiple of 32, whole kv groups; got q {tuple(query.shape)} k {tuple(key.shape)} "
                           f"v {tuple(value.shape)}")
    rep = H // key.shape[1]
    q, k = engine_order(query.float()), engine_order(key.float())  # q.k does not depend on the order
    q = ste_value(q, q8(q))
    k = ste_value(k, q8(k)).repeat_interleave(rep, 1)
    s = torch.matmul(q, k.transpose(-1, -2)) * scaling
    causal = torch.ones(S, S, dtype=torch.bool, device=s.device).tril()
    s = s.masked_fill(~causal, float("-inf"))
    p = torch.softmax(s, -1)
    if mode == "qkv8e":  # masked: m - s = inf, k = inf -> 0
        with torch.no_grad():
            kk = torch.round((s.amax(-1, keepdim=True) - s) * EXP_STEPS)
            w = exp_table(s.device)[kk.clamp(max=EXP_TABLE - 1).long()]
            w = torch.where(kk < EXP_TABLE, w, torch.zeros_like(w))
            pt = w / w.sum(-1, keepdim=True)
        p = ste_value(p, pt)
    if mode == "qk8":
        return torch.matmul(p, value.float().repeat_interleave(rep, 1)).transpose(1, 2).contiguous()
    with torch.no_grad():  # per 32-dim block b of v (v's layout is the same in HF and GGUF)
        vq, dv = q8_split(value)
        vq, dv = vq.repeat_interleave(rep, 1), dv.repeat_interleave(rep, 1)
        outs = []
        for b in range(D // 32):
            u = p * dv[:, :, None, :, b, 0]  # [B, H, query, key]
            e = u.amax(-1, keepdim=True) / 255
            uq = torch.where(e > 0, torch.round(u / torch.where(e > 0, e, torch.ones_like(e))),
                             torch.zeros_like(u)).clamp(0, 255)
            outs.append(torch.matmul(uq, vq[..., b, :]) * e)
            del u, uq
        out = torch.cat(outs, -1)
    if torch.is_grad_enabled():  # the gradient of p . q8(v)
        v = value.float()
        out = ste_value(torch.matmul(p, ste_value(v, q8(v)).repeat_interleave(rep, 1)), out)
    return out.transpose(1, 2).contiguous()
