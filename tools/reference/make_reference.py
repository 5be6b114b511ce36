#!/usr/bin/env python3
"""Reference outputs for the engine tests, computed on the GPU machine.

Builds small random-initialised LlamaForCausalLM (plain, and with Llama-3 rope
scaling) and Qwen2ForCausalLM models with transformers, saves them as HF
directories (config.json + model.safetensors), and computes logits for a fixed
token sequence with an independent float64 forward pass written here (HF's own
forward, which keeps RMSNorm and RoPE in float32, is run as a cross-check of
this implementation). For stories260K (llama2.c checkpoint, carried in
.device/), it computes float64 log-probabilities of real text.

Usage (GPU machine):  python3 tools/reference/make_reference.py .device $OUT
Writes $OUT/reference.tar holding tests/data/reference/*; unpack it in the repo.
"""
import io, json, math, os, struct, sys, tarfile, tempfile

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False
DEV = "cpu"  # float64 on the CPU: exact enough, and the models are tiny


def rope_params(cfg):
    """RoPE settings from config.json: older transformers write rope_theta and
    rope_scaling, newer ones a rope_parameters dict holding both."""
    rp = cfg.get("rope_parameters") or {}
    base = cfg.get("rope_theta", rp.get("rope_theta", 10000.0))
    sc = cfg.get("rope_scaling") or (rp if rp.get("rope_type", "default") != "default" else None)
    return base, sc


def rope_inv_freq(cfg, hd):
    base, sc = rope_params(cfg)
    inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    if sc and sc.get("rope_type", sc.get("type")) == "llama3":
        factor, lo, hi = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"]
        old = sc["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        out = []
        for f in inv.tolist():
            wl = 2 * math.pi / f
            if wl < hi_wl:
                out.append(f)
            elif wl > lo_wl:
                out.append(f / factor)
            else:
                s = (old / wl - lo) / (hi - lo)
                out.append((1 - s) * f / factor + s * f)
        inv = torch.tensor(out, dtype=torch.float64)
    return inv


def forward64(sd, cfg, ids):
    """Float64 forward pass of llama/qwen2 in HF weight layout (rotate_half RoPE)."""
    g = lambda k: sd[k].to(torch.float64)
    H, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = H // nh
    eps = cfg["rms_norm_eps"]
    T = len(ids)
    x = g("model.embed_tokens.weight")[torch.tensor(ids)]
    inv = rope_inv_freq(cfg, hd)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)

    def norm(v, w):
        return v / torch.sqrt((v * v).mean(-1, keepdim=True) + eps) * w

    def rot(v):  # [heads, T, hd]
        a, b = v[..., : hd // 2], v[..., hd // 2:]
        return v * cos + torch.cat([-b, a], -1) * sin

    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = norm(x, g(p + "input_layernorm.weight"))
        q, k, v = (h @ g(p + f"self_attn.{n}_proj.weight").T for n in "qkv")
        if p + "self_attn.q_proj.bias" in sd:
            q, k, v = q + g(p + "self_attn.q_proj.bias"), k + g(p + "self_attn.k_proj.bias"), v + g(p + "self_attn.v_proj.bias")
        q = rot(q.view(T, nh, hd).transpose(0, 1))
        k = rot(k.view(T, nkv, hd).transpose(0, 1)).repeat_interleave(nh // nkv, 0)
        v = v.view(T, nkv, hd).transpose(0, 1).repeat_interleave(nh // nkv, 0)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + mask, -1) @ v
        x = x + att.transpose(0, 1).reshape(T, H) @ g(p + "self_attn.o_proj.weight").T
        h = norm(x, g(p + "post_attention_layernorm.weight"))
        gate, up = h @ g(p + "mlp.gate_proj.weight").T, h @ g(p + "mlp.up_proj.weight").T
        x = x + (torch.nn.functional.silu(gate) * up) @ g(p + "mlp.down_proj.weight").T
    x = norm(x, g("model.norm.weight"))
    head = g("lm_head.weight") if "lm_head.weight" in sd else g("model.embed_tokens.weight")
    return x @ head.T


def random_model(name, cls, cfg_cls, seed, **kw):
    torch.manual_seed(seed)
    cfg = cfg_cls(**kw)
    model = cls(cfg).to(torch.float32).eval()
    d = tempfile.mkdtemp()
    model.save_pretrained(d, safe_serialization=True)
    cfgd = json.load(open(os.path.join(d, "config.json")))
    print(name, "config:", json.dumps({k: v for k, v in cfgd.items() if "rope" in k or k in ("tie_word_embeddings", "torch_dtype", "dtype")}))
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if cfgd.get("tie_word_embeddings"):
        sd.pop("lm_head.weight", None)
    ids = [(i * 37 + 11) % cfgd["vocab_size"] for i in range(24)]
    ref = forward64(sd, cfgd, ids)
    with torch.no_grad():
        hf = model.to(torch.float64)(torch.tensor([ids])).logits[0]
    rel = ((hf - ref).norm() / ref.norm()).item()
    print(f"{name}: params {sum(p.numel() for p in model.parameters())}, HF float64 vs this float64 forward: rel {rel:.2e}")
    files = {f"{name}/config.json": open(os.path.join(d, "config.json"), "rb").read(),
             f"{name}/model.safetensors": open(os.path.join(d, "model.safetensors"), "rb").read(),
             f"{name}/ids.txt": (" ".join(map(str, ids)) + "\n").encode(),
             f"{name}/logits.f64": ref.numpy().astype("<f8").tobytes()}
    return files


def stories(device_dir):
    """stories260K through the float64 forward: log-probabilities of a text."""
    raw = open(os.path.join(device_dir, "stories260K.bin"), "rb").read()
    dim, hidden, nl, nh, nkv, vocab, seq = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    w = np.frombuffer(raw[28:], dtype="<f4")
    hs, kvd = dim // nh, dim // nh * nkv
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        t = torch.from_numpy(w[at:at + n].copy()).view(*shape)
        at += n
        return t

    emb = take(vocab, dim); rms_att = take(nl, dim); wq = take(nl, dim, dim); wk = take(nl, kvd, dim)
    wv = take(nl, kvd, dim); wo = take(nl, dim, dim); rms_ffn = take(nl, dim); w1 = take(nl, hidden, dim)
    w2 = take(nl, dim, hidden); w3 = take(nl, hidden, dim); rms_f = take(dim)

    def to_hf(t, heads):  # llama2.c rotates adjacent pairs; HF rotates halves
        return t.view(heads, hs // 2, 2, dim).transpose(1, 2).reshape(heads * hs, dim)

    sd = {"model.embed_tokens.weight": emb, "model.norm.weight": rms_f}
    for l in range(nl):
        p = f"model.layers.{l}."
        sd.update({p + "input_layernorm.weight": rms_att[l], p + "post_attention_layernorm.weight": rms_ffn[l],
                   p + "self_attn.q_proj.weight": to_hf(wq[l], nh), p + "self_attn.k_proj.weight": to_hf(wk[l], nkv),
                   p + "self_attn.v_proj.weight": wv[l], p + "self_attn.o_proj.weight": wo[l],
                   p + "mlp.gate_proj.weight": w1[l], p + "mlp.down_proj.weight": w2[l], p + "mlp.up_proj.weight": w3[l]})
    cfg = {"hidden_size": dim, "num_attention_heads": nh, "num_key_value_heads": nkv, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "num_hidden_layers": nl}
    # Tokenize with the model's own vocabulary: greedy longest match over its
    # pieces (spaces as in tokenizer.bin) after SentencePiece's dummy space.
    tb = open(os.path.join(device_dir, "tok512.bin"), "rb").read()
    pieces, off = [], 4
    for _ in range(vocab):
        _, n = struct.unpack("<fi", tb[off:off + 8]); off += 8
        pieces.append(tb[off:off + n]); off += n
    lookup = {p: i for i, p in enumerate(pieces) if i >= 3}
    text = (" Once upon a time, there was a little boy named Tom. He liked to run in the big green park with his dog."
            " One day, Tom saw a small bird on a tree. The bird was sad because it could not fly. Tom wanted to help"
            " the bird. He gave it some water and a little bread. The bird was happy and sang a song. Tom and his dog"
            " smiled. From that day on, the bird and Tom were best friends, and they played in the park every day.")
    data, ids, i = text.encode(), [1], 0
    while i < len(data):
        for j in range(min(len(data), i + 16), i, -1):
            if data[i:j] in lookup:
                ids.append(lookup[data[i:j]]); i = j; break
        else:
            ids.append(3 + data[i]); i += 1  # <0xXX> byte pieces start at id 3
    ref = forward64(sd, cfg, ids)
    lp = torch.log_softmax(ref, -1)
    nxt = torch.tensor(ids[1:])
    logp = lp[:-1].gather(1, nxt[:, None])[:, 0]
    bits = (-logp / math.log(2)).sum().item()
    print(f"stories260K: {len(ids)} tokens, reference cross-entropy {bits / (len(ids) - 1):.4f} bits/token")
    lines = ["# position id next_id ref_log2p_next ref_argmax"]
    for t in range(len(ids) - 1):
        lines.append(f"{t} {ids[t]} {ids[t + 1]} {(logp[t] / math.log(2)).item():.12f} {int(ref[t].argmax())}")
    return {"stories260K/reference.txt": ("\n".join(lines) + "\n").encode()}


def main():
    device_dir, out = sys.argv[1], sys.argv[2]
    files = {}
    files.update(random_model("llama", LlamaForCausalLM, LlamaConfig, 1, hidden_size=96, intermediate_size=200,
                              num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2, vocab_size=320,
                              max_position_embeddings=128, rms_norm_eps=1e-6, rope_theta=10000.0,
                              tie_word_embeddings=False, initializer_range=0.08))
    files.update(random_model("llama3", LlamaForCausalLM, LlamaConfig, 2, hidden_size=64, intermediate_size=128,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, vocab_size=256,
                              max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=500000.0,
                              rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                            "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                              tie_word_embeddings=True, initializer_range=0.08))
    files.update(random_model("qwen2", Qwen2ForCausalLM, Qwen2Config, 3, hidden_size=64, intermediate_size=160,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=300,
                              max_position_embeddings=128, rms_norm_eps=1e-6, rope_theta=1000000.0,
                              tie_word_embeddings=True, initializer_range=0.08, use_sliding_window=False))
    if os.path.exists(os.path.join(device_dir, "stories260K.bin")):
        files.update(stories(device_dir))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo("tests/data/reference/" + name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    open(os.path.join(out, "reference.tar"), "wb").write(buf.getvalue())
    print(f"wrote reference.tar ({len(buf.getvalue())} bytes), torch {torch.__version__}")


if __name__ == "__main__":
    main()
