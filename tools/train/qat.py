#!/usr/bin/env python3
"""Fine-tune a GGUF model for hlz's arithmetic (quantization-aware training) on one GPU.

  python3 tools/train/qat.py --gguf models/default/default.gguf --corpus DIR --out OUT \
      [--train-seconds 150] [--lr 3e-4] [--attention float|qk8|qkv8|qkv8e] [--eval-only]

hlz runs Q8_0 weights (blocks of 32, d = amax/127 stored as fp16) against activations quantized the
same way per token (d kept as float) and multiplies them exactly (doc/engine.md). This script:
  1. reads the GGUF (F32/F16/Q8_0 tensors) into a transformers LlamaForCausalLM: the Q8_0 weights are
     taken as their exact dequantized values, q and k are permuted back to HF's rotate-halves layout;
     the tokenizer is rebuilt from the GGUF metadata (tokenizer.ggml.tokens/merges) and checked against
     tests/data/tokenizer/hlz-default.tsv when that file names the same vocabulary;
  2. measures validation bits per byte (all held-out documents of the corpus, 1024-token windows) in
     float32 twice: the float model ("float") and with hlz's quantization simulated ("q8": every
     linear layer, the tied output layer and the embedding lookup use Q8_0-rounded weights, the linear
     layers' inputs are rounded per block of 32 as the engine does);
  3. trains with the quantization in the forward pass and straight-through gradients (the float32
     master weights move; the forward sees their Q8_0 rounding), AdamW, warm-up then cosine, and keeps
     the step with the best simulated validation figure;
  4. writes OUT/model.safetensors (float32), config.json, tokenizer.json and summary.json, for
     `hlz-convert hf OUT FILE.gguf --type q8_0`.
--attention MODE simulates an integer attention that the engine does not have (yet), to price it
(attnsim.py: qk8 rounds q and k per block of 32, qkv8 also v and the attention weights to u8, qkv8e also
takes exp from a table); it applies with the quantization simulation, measured as "q8+MODE" and trained
with (straight-through gradients).
--eval-only measures float, q8 and q8 with each attention mode, writes summary.json and stops.
The figures that count are those hlz itself achieves: bench/qat.sh measures old and new model through
hlz in the same run.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
T_START = time.time()
ATTENTION_MODES = ("float", "qk8", "qkv8", "qkv8e")  # attnsim.MODES, known before torch is imported


def log(msg):
    print(f"[{time.time() - T_START:7.1f}s] {msg}", flush=True)


# ---------------------------------------------------------------- GGUF (v3) reading

def read_gguf(path):
    """-> (metadata dict, {name: numpy float32 array shaped [rows, cols] or [n]})."""
    import numpy as np
    data = open(path, "rb").read()
    at = 0

    def take(fmt):
        nonlocal at
        v = struct.unpack_from("<" + fmt, data, at)
        at += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal at
        n = take("Q")
        s = data[at:at + n].decode("utf-8")
        at += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t in scalar:
            return take(scalar[t])
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        raise ValueError(f"GGUF value type {t}")

    assert data[:4] == b"GGUF", "not a GGUF file"
    at = 4
    version, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    assert version == 3, version
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take("I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        dims = [take("Q") for _ in range(take("I"))]
        infos.append((name, dims, take("I"), take("Q")))
    align = meta.get("general.alignment", 32)
    base = (at + align - 1) // align * align
    tensors = {}
    for name, dims, typ, off in infos:
        n = math.prod(dims)
        p = base + off
        if typ == 0:
            a = np.frombuffer(data, np.float32, n, p)
        elif typ == 1:
            a = np.frombuffer(data, np.float16, n, p).astype(np.float32)
        elif typ == 8:  # Q8_0: fp16 d, 32 int8
            blk = np.frombuffer(data, np.uint8, n // 32 * 34, p).reshape(-1, 34)
            d = blk[:, :2].copy().view(np.float16).astype(np.float32)
            q = blk[:, 2:].copy().view(np.int8).astype(np.float32)
            a = (q * d).reshape(-1)
        else:
            raise ValueError(f"{name}: GGUF type {typ} not handled")
        tensors[name] = a.reshape(list(reversed(dims))) if len(dims) > 1 else a.copy()
    return meta, tensors


def tokenizer_from_gguf(meta):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    toks = meta["tokenizer.ggml.tokens"]
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(toks)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(toks[0], special=True)])
    return tok


def check_tokenizer(tok, tsv):
    """The rebuilt tokenizer against the engine's reference vectors: (checked, equal)."""
    def unescape(s):
        out, i = [], 0
        while i < len(s):
            c = s[i]
            if c != "\\":
                out.append(c.encode())
                i += 1
                continue
            e = s[i + 1]
            if e in "\\tnr":
                out.append({"\\": b"\\", "t": b"\t", "n": b"\n", "r": b"\r"}[e])
                i += 2
            elif e == "x":
                out.append(bytes([int(s[i + 2:i + 4], 16)]))
                i += 4
            elif e == "u":
                j = s.index("}", i)
                out.append(chr(int(s[i + 3:j], 16)).encode("utf-8", "surrogatepass"))
                i = j + 1
            else:
                raise ValueError(s)
        return b"".join(out)

    n = same = 0
    for line in open(tsv, encoding="utf-8"):
        if line.startswith("#") or "\t" not in line:
            continue
        text, ids = line.rstrip("\n").rsplit("\t", 1)
        raw = unescape(text)
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue  # the reference library takes str; invalid UTF-8 is the engine's own business
        n += 1
        same += tok.encode(s, add_special_tokens=False).ids == [int(x) for x in ids.split()]
    return n, same


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--config", default=os.path.join(HERE, "..", "..", "models", "default", "config.json"))
    ap.add_argument("--tokenizer-vectors",
                    default=os.path.join(HERE, "..", "..", "tests", "data", "tokenizer", "hlz-default.tsv"))
    ap.add_argument("--corpus", required=True, help="a folder holding default_corpus.py's corpus.tar (or a subset)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--train-seconds", type=float, default=150)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("--compile", type=int, default=1)
    ap.add_argument("--save-before", help="also write the model as read (before training) here: converted back "
                    "with hlz-convert it must give the input GGUF's bytes")
    ap.add_argument("--attention", choices=ATTENTION_MODES, default="float",
                    help="attention arithmetic simulated with the quantization (float: the framework's own)")
    ap.add_argument("--attn-eval-batch", type=int, default=16,
                    help="validation windows per forward while an attention mode is simulated (memory)")
    ap.add_argument("--eval-only", action="store_true",
                    help="measure float, q8 and q8 with each attention mode; no training, no model saved")
    a = ap.parse_args()

    import numpy as np
    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM
    from train import read_corpus
    import attnsim
    assert attnsim.MODES == ATTENTION_MODES

    dev = torch.device("cuda")
    os.makedirs(a.out, exist_ok=True)
    gpu = torch.cuda.get_device_name(0)
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, GPU {gpu}")

    # ---------------------------------------------------------------- the model from the GGUF
    meta, ten = read_gguf(a.gguf)
    cfg = json.load(open(a.config))
    conf = LlamaConfig(**{k: v for k, v in cfg.items() if k not in ("architectures", "transformers_version", "dtype")})
    heads, kvh = conf.num_attention_heads, conf.num_key_value_heads
    hd = conf.hidden_size // heads
    model = LlamaForCausalLM(conf).float()

    def unpermute(w, nh):  # GGUF row h*hd + 2i + j  <-  HF row h*hd + j*hd/2 + i
        return w.reshape(nh, hd // 2, 2, -1).transpose(0, 2, 1, 3).reshape(nh * hd, -1)

    sd = {"model.embed_tokens.weight": ten["token_embd.weight"], "model.norm.weight": ten["output_norm.weight"]}
    names = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_q": "self_attn.q_proj",
             "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    for l in range(conf.num_hidden_layers):
        for g, h in names.items():
            w = ten[f"blk.{l}.{g}.weight"]
            if g == "attn_q":
                w = unpermute(w, heads)
            elif g == "attn_k":
                w = unpermute(w, kvh)
            sd[f"model.layers.{l}.{h}.weight"] = w
    weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    assert not unexpected and all("lm_head" in m or "rotary" in m for m in missing), (missing, unexpected)
    model.tie_weights()
    model.to(dev)
    emb = model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight.data_ptr() == emb.data_ptr(), "embeddings not tied"
    log(f"model: {sum(p.numel() for p in model.parameters())} parameters from {a.gguf}")

    tok = tokenizer_from_gguf(meta)
    V = tok.get_vocab_size()
    if os.path.exists(a.tokenizer_vectors):
        n, same = check_tokenizer(tok, a.tokenizer_vectors)
        log(f"tokenizer rebuilt from the GGUF: {same} of {n} reference vectors equal")
        assert n > 0 and same == n, "the rebuilt tokenizer differs from the engine's reference vectors"

    # ---------------------------------------------------------------- hlz's quantization, simulated
    def q8(x):
        """Q8_0 rounding along the last axis (blocks of 32): d = amax/127, q = round(x/d)."""
        s = x.shape
        b = x.float().reshape(-1, 32)
        d = b.abs().amax(1, keepdim=True) / 127
        q = torch.where(d > 0, torch.round(b / torch.where(d > 0, d, 1)), 0).clamp(-127, 127)
        return (q * d).reshape(s)

    def q8_weight(w):  # d stored as fp16
        b = w.float().reshape(-1, 32)
        d = (b.abs().amax(1, keepdim=True) / 127).half().float()
        q = torch.where(d > 0, torch.round(b / torch.where(d > 0, d, 1)), 0).clamp(-127, 127)
        return (q * d).reshape(w.shape)

    def ste(x, f):  # forward f(x), gradient of the identity
        return x + (f(x) - x).detach()

    state = {"on": False, "attn": "float", "probe": False}

    class QLinear(torch.nn.Module):
        def __init__(self, lin):
            super().__init__()
            self.weight = lin.weight

        def forward(self, x):
            if not state["on"]:
                return F.linear(x, self.weight)
            dt = torch.bfloat16 if torch.is_autocast_enabled() else torch.float32
            w = ste(self.weight, q8_weight)
            return F.linear(ste(x.float(), q8).to(dt), w.to(dt))

    for layer in model.model.layers:
        for parent, attrs in ((layer.self_attn, ("q_proj", "k_proj", "v_proj", "o_proj")),
                              (layer.mlp, ("gate_proj", "up_proj", "down_proj"))):
            for at in attrs:
                setattr(parent, at, QLinear(getattr(parent, at)))
    model.lm_head = QLinear(model.lm_head)
    embed = model.model.embed_tokens
    embed_plain = embed.forward  # the lookup sees the Q8_0 rounding of the table, as the engine's does
    embed.forward = lambda ids: F.embedding(ids, ste(embed.weight, q8_weight)) if state["on"] else embed_plain(ids)
    assert model.lm_head.weight.data_ptr() == emb.data_ptr()

    # ---------------------------------------------------------------- integer attention, simulated
    sim_calls = [0]

    def install_attention_sim():
        """Wraps the attention function the model dispatches to: the original runs, arguments untouched,
        unless the quantization simulation is on with an attention mode other than float."""
        try:
            from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
        except ImportError as e:
            sys.exit(f"--attention/--eval-only: transformers {transformers.__version__} has no attention function "
                     f"registry (transformers.modeling_utils.ALL_ATTENTION_FUNCTIONS, 4.48 or later): {e}")
        impl = getattr(model.config, "_attn_implementation", None) or "eager"
        if impl == "eager":
            from transformers.models.llama import modeling_llama
            orig = getattr(modeling_llama, "eager_attention_forward", None)
        else:
            orig = ALL_ATTENTION_FUNCTIONS.get(impl)
        if orig is None:
            sys.exit(f"--attention/--eval-only: transformers {transformers.__version__}: no attention function "
                     f"for the model's implementation {impl!r} to wrap")

        def wrapper(module, query, key, value, attention_mask, *args, **kwargs):
            if not (state["on"] and state["attn"] != "float"):
                return orig(module, query, key, value, attention_mask, *args, **kwargs)
            if state["probe"]:  # counted only then: a changing count would make torch.compile retrace
                sim_calls[0] += 1
            scaling = kwargs.get("scaling")
            if scaling is None:
                scaling = query.shape[-1] ** -0.5
            with torch.autocast(query.device.type, enabled=False):
                out = attnsim.attention(query, key, value, scaling, state["attn"])
            return out.to(query.dtype), None

        attnsim.exp_table(dev)  # made here, not while torch.compile traces
        ALL_ATTENTION_FUNCTIONS[impl] = wrapper
        log(f"attention simulation wraps transformers {transformers.__version__}'s {impl!r} attention")

    # ---------------------------------------------------------------- data
    train_texts, val_texts, _, _ = read_corpus(a.corpus)
    tok_len = np.zeros(V, dtype=np.int64)
    for s, i in tok.get_vocab().items():
        if i != 0:
            tok_len[i] = len(s)
    enc = lambda texts: [np.asarray(e.ids, np.int32) for e in tok.encode_batch(texts, add_special_tokens=False)]
    sep = np.array([0], np.int32)
    join = lambda chunks: np.concatenate([x for c in chunks for x in (c, sep)])
    tr = join(enc(train_texts))
    va = join(enc(val_texts))
    T = a.seq
    k = (len(va) - 1) // T
    va_win = torch.from_numpy(np.stack([va[i * T:i * T + T + 1] for i in range(k)]).astype(np.int64)).to(dev)
    tr_gpu = torch.from_numpy(tr.astype(np.int64)).to(dev)
    tok_len_gpu = torch.from_numpy(tok_len).to(dev)
    log(f"data: {len(train_texts)} train documents, {len(tr)} tokens; {len(val_texts)} validation documents, "
        f"{k} windows of {T}")

    @torch.no_grad()
    def evaluate(quant, attn="float", bs=32):
        model.eval()
        state["on"] = quant
        state["attn"] = attn
        if quant and attn != "float":
            bs = a.attn_eval_batch
        nats = nbytes = 0.0
        for i in range(0, len(va_win), bs):
            w = va_win[i:i + bs]
            x, y = w[:, :-1], w[:, 1:]
            logits = model(input_ids=x, use_cache=False).logits
            l = F.cross_entropy(logits.float().reshape(-1, V), y.reshape(-1), reduction="none")
            m = y.reshape(-1) != 0
            nats += float((l * m).sum())
            nbytes += float(tok_len_gpu[y.reshape(-1)].sum())
        model.train()
        return nats / math.log(2) / nbytes

    torch.backends.cuda.matmul.allow_tf32 = False
    modes = [m for m in ATTENTION_MODES if m != "float"] if a.eval_only else \
        [a.attention] if a.attention != "float" else []
    if modes:
        install_attention_sim()
        with torch.no_grad():  # the wrapper must be what every layer calls
            state["on"], state["attn"], state["probe"] = True, "qk8", True
            model(input_ids=va_win[:1, :64], use_cache=False)
            state["on"], state["attn"], state["probe"] = False, "float", False
        if sim_calls[0] != conf.num_hidden_layers:
            sys.exit(f"attention simulation: called {sim_calls[0]} times for {conf.num_hidden_layers} layers "
                     f"(transformers {transformers.__version__}, implementation "
                     f"{getattr(model.config, '_attn_implementation', None)!r}): the model does not dispatch "
                     f"through ALL_ATTENTION_FUNCTIONS")
    sim_name = "q8" if a.attention == "float" else f"q8+{a.attention}"

    def measure():
        r = {"float": evaluate(False), "q8": evaluate(True)}
        for m in modes:
            r[f"q8+{m}"] = evaluate(True, m)
        return r

    def figures(r):
        return ", ".join([f"float {r['float']:.5f} bpb", f"simulated q8 {r['q8']:.5f} bpb"] +
                         [f"{k} {v:.5f} bpb" for k, v in r.items() if k.startswith("q8+")])

    before = measure()
    log(f"before: validation {figures(before)}")
    if a.eval_only:
        summary = {"gpu": gpu, "torch": torch.__version__, "transformers": transformers.__version__,
                   "command": " ".join(sys.argv), "eval_only": True, "val_windows": int(k), "before": before}
        json.dump(summary, open(os.path.join(a.out, "summary.json"), "w"), indent=2)
        log(f"eval only: wrote {os.path.join(a.out, 'summary.json')}")
        return

    # ---------------------------------------------------------------- quantization-aware training
    torch.manual_seed(a.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    fwd = torch.compile(model) if a.compile else model
    gen = torch.Generator(device=dev)
    gen.manual_seed(a.seed)
    ar = torch.arange(T + 1, device=dev)
    nmax = len(tr_gpu) - T - 1
    before_sd = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    best = (before[sim_name], 0, before_sd)
    rows, step, total, t0 = [], 0, 0, time.time()
    state["on"], state["attn"] = True, a.attention
    while True:
        if total and step >= total:
            break
        p = min(1.0, max(0, step - a.warmup) / max(1, (total or 10 ** 9) - a.warmup))
        lr = a.lr * (step + 1) / a.warmup if step < a.warmup else \
            a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))
        for g in opt.param_groups:
            g["lr"] = lr
        w = tr_gpu[torch.randint(0, nmax, (a.batch,), device=dev, generator=gen)[:, None] + ar]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = fwd(input_ids=w[:, :-1], use_cache=False).logits
        loss = F.cross_entropy(logits.float().reshape(-1, V), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step == 20:
            torch.cuda.synchronize()
            t20 = time.time()
        if step == 60 and not total:
            torch.cuda.synchronize()
            per = (time.time() - t20) / 40
            total = max(step + 10, int(a.train_seconds / per))
            log(f"{per * 1000:.1f} ms/step, {a.batch * T / per / 1e6:.2f} M tokens/s -> {total} steps")
        if step % a.eval_every == 0 or step == total:
            vq = evaluate(True, a.attention)
            state["on"], state["attn"] = True, a.attention
            rows.append({"step": step, "lr": lr, "train_loss": float(loss), f"val_{sim_name}_bpb": vq})
            log(f"step {step}/{total} lr {lr:.2e} loss {float(loss):.4f} val {sim_name} {vq:.5f} bpb")
            if vq < best[0]:
                best = (vq, step, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
    train_seconds = time.time() - t0
    model.load_state_dict(best[2])
    after = measure()
    log(f"after (step {best[1]}): validation {figures(after)}")

    # ---------------------------------------------------------------- save for hlz-convert
    from safetensors.torch import save_file

    def save(folder, sd):
        os.makedirs(folder, exist_ok=True)
        save_file({k: v.float().contiguous() for k, v in sd.items() if k != "lm_head.weight"},
                  os.path.join(folder, "model.safetensors"))
        json.dump(cfg, open(os.path.join(folder, "config.json"), "w"), indent=2, sort_keys=True)
        tok.save(os.path.join(folder, "tokenizer.json"))

    if a.save_before:
        save(a.save_before, before_sd)
    save(a.out, model.state_dict())
    summary = {"gpu": gpu, "torch": torch.__version__, "command": " ".join(sys.argv), "attention": a.attention,
               "steps": step,
               "best_step": best[1], "tokens_seen": step * a.batch * T, "train_seconds": round(train_seconds, 1),
               "train_tokens": int(len(tr)), "val_windows": int(k), "before": before, "after": after, "log": rows}
    json.dump(summary, open(os.path.join(a.out, "summary.json"), "w"), indent=2)
    log(f"saved {sorted(os.listdir(a.out))}")


if __name__ == "__main__":
    main()
