#!/usr/bin/env python3
"""Train a model for hlz on one GPU (needs torch, transformers, tokenizers, safetensors): the stand-in
and the default model.

  python3 tools/train/train.py --corpus .device/train/corpus --out OUT [--train-seconds 330]

The corpus folder is what tools/train/make_corpus.py writes (books/ and manifest.tsv, whose
split column says which books are held out for validation), or what tools/train/default_corpus.py
writes (corpus.tar: manifest.tsv and one xz-compressed SOURCE.bin per source; validation is then
also reported per source). Steps:
  1. a byte-level BPE tokenizer (tokenizers): ByteLevel pre-tokenizer, GPT-2 split regex, no prefix
     space, ByteLevel decoder; 4096 entries = "<|endoftext|>" (id 0) + the 256 byte tokens + merges.
     Trained on the training books only.
  2. a LlamaForCausalLM (transformers) with tied embeddings, trained on 512-token windows drawn at
     random offsets from the concatenated training books (books separated by <|endoftext|>),
     bf16 autocast, AdamW, linear warm-up then cosine decay, a fixed seed. With --train-seconds the
     step count is fixed once, from the speed of the first steps, and written to summary.json;
     --steps N replays a run with the same number of steps.
  3. writes to OUT: config.json, model.safetensors (float32), tokenizer.json, train_log.csv,
     summary.json (losses in nats per token and bits per byte of the text).

--sweep "name:key=val,key=val;name2:..." runs several short trainings one after another (same
tokenizer) and saves only the one with the best validation bits per byte.
"""
import argparse
import csv
import datetime
import hashlib
import json
import math
import os
import random
import sys
import time

T_START = time.time()


def log(msg):
    print(f"[{time.time() - T_START:7.1f}s] {msg}", flush=True)


def bytes_to_unicode():
    """GPT-2's byte <-> printable-character table, as the ByteLevel pre-tokenizer uses it."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def read_records(data):
    """The records of a SOURCE.bin: 8-byte little-endian length, then the text."""
    at, out = 0, []
    while at < len(data):
        n = int.from_bytes(data[at:at + 8], "little")
        out.append(data[at + 8:at + 8 + n])
        at += 8 + n
    return out


def read_tar_corpus(path):
    """default_corpus.py's corpus.tar -> (train texts, val texts, {source: val texts}, manifest rows)."""
    import lzma
    import tarfile
    with tarfile.open(path) as tf:
        rows = list(csv.DictReader(tf.extractfile("manifest.tsv").read().decode().splitlines(), delimiter="\t"))
        blobs = {}
        for m in tf:
            if m.name.endswith(".bin.xz"):
                blobs[m.name[:-7]] = iter(read_records(lzma.decompress(tf.extractfile(m).read())))
    train, val, val_by = [], [], {}
    for r in rows:
        data = next(blobs[r["source"]])
        if hashlib.sha256(data).hexdigest() != r["sha256"]:
            sys.exit(f"sha256 mismatch: {r['name']}")
        text = data.decode("utf-8")
        if r["split"] == "val":
            val.append(text)
            val_by.setdefault(r["source"], []).append(text)
        else:
            train.append(text)
    return train, val, val_by, rows


def read_corpus(folder):
    if os.path.exists(os.path.join(folder, "corpus.tar")):
        return read_tar_corpus(os.path.join(folder, "corpus.tar"))
    rows = []
    with open(os.path.join(folder, "manifest.tsv")) as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            rows.append(r)
    rows.sort(key=lambda r: int(r["order"]))
    train, val = [], []
    for r in rows:
        with open(os.path.join(folder, "books", r["file"]), "rb") as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != r["sha256"]:
            sys.exit(f"sha256 mismatch: {r['file']}")
        (val if r["split"] == "val" else train).append(data.decode("utf-8"))
    return train, val, {}, rows


def train_tokenizer(texts, vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, show_progress=False,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=".device/train/corpus")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", help="reuse this tokenizer.json instead of training one")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=224)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=256, help="sequences per step")
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--steps", type=int, default=0, help="fixed step count (0: from --train-seconds)")
    ap.add_argument("--train-seconds", type=float, default=330.0)
    ap.add_argument("--deadline", type=float, default=0,
                    help="stop training when the whole script has run this many seconds (0: none)")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--compile", type=int, default=1)
    ap.add_argument("--sweep", default="")
    ap.add_argument("--tokenizer-mb", type=float, default=0,
                    help="train the tokenizer on an evenly spread sample of this many MB of documents (0: all)")
    ap.add_argument("--reserve", type=float, default=0,
                    help="with --deadline: seconds kept for the final evaluation and saving; the step count "
                         "is then also limited so that training ends by deadline - reserve")
    ap.add_argument("--save-dtype", default="float32", choices=["float32", "float16"],
                    help="dtype of the saved model.safetensors")
    a = ap.parse_args()

    import numpy as np
    import torch
    import torch.nn.functional as F
    import transformers
    from tokenizers import Tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    os.makedirs(a.out, exist_ok=True)
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    gpu = torch.cuda.get_device_name(0)
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, GPU {gpu}")

    # ---------------------------------------------------------------- data and tokenizer
    train_texts, val_texts, val_by_source, _ = read_corpus(a.corpus)
    train_bytes = sum(len(t.encode()) for t in train_texts)
    val_bytes_total = sum(len(t.encode()) for t in val_texts)
    log(f"corpus: {len(train_texts)} train books {train_bytes} B, {len(val_texts)} val books {val_bytes_total} B")
    t0 = time.time()
    if a.tokenizer:
        tok = Tokenizer.from_file(a.tokenizer)
    else:
        sample = train_texts
        if a.tokenizer_mb:
            # every k-th document, so that every source is represented in proportion
            k = max(1, int(train_bytes / (a.tokenizer_mb * 1e6)))
            sample = train_texts[::k]
            log(f"tokenizer sample: every {k}th document, {sum(len(t.encode()) for t in sample)} B")
        tok = train_tokenizer(sample, a.vocab)
    tok_seconds = time.time() - t0
    V = tok.get_vocab_size()
    eot = tok.token_to_id("<|endoftext|>")
    assert V == a.vocab and eot == 0, (V, eot)
    tok.save(os.path.join(a.out, "tokenizer.json"))
    log(f"tokenizer: {V} entries in {tok_seconds:.1f}s")

    b2u = bytes_to_unicode()
    u2b = {c: b for b, c in b2u.items()}
    tok_len = np.zeros(V, dtype=np.int64)  # bytes each token stands for
    for s, i in tok.get_vocab().items():
        if i != eot:
            tok_len[i] = len(s)
            assert all(ch in u2b for ch in s), s

    t0 = time.time()
    def encode_all(texts):
        encs = tok.encode_batch(texts, add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.int32) for e in encs]
    tr_ids = encode_all(train_texts)
    va_ids = encode_all(val_texts)
    # lossless on the validation books
    for t, ids in zip(val_texts, va_ids):
        assert tok.decode(ids.tolist(), skip_special_tokens=False) == t, "tokenizer round trip failed"
        assert int(tok_len[ids].sum()) == len(t.encode()), "token byte lengths do not add up"
    sep = np.array([eot], dtype=np.int32)
    def join(chunks):
        out = []
        for c in chunks:
            out += [c, sep]
        return np.concatenate(out)
    tr = join(tr_ids)
    va = join(va_ids)
    log(f"tokenized in {time.time() - t0:.1f}s: train {len(tr)} tokens ({train_bytes / len(tr):.3f} B/token), "
        f"val {len(va)} tokens ({val_bytes_total / len(va):.3f} B/token)")
    train_bpt = train_bytes / (len(tr) - len(tr_ids))  # bytes per (non-separator) token
    tr_gpu = torch.from_numpy(tr.astype(np.int64)).to(dev)
    tok_len_gpu = torch.from_numpy(tok_len).to(dev)

    T = a.seq
    def windows(arr, n=None):
        k = (len(arr) - 1) // T
        x = np.stack([arr[i * T:i * T + T + 1] for i in range(k)])
        if n is not None and n < k:  # evenly spread subset
            x = x[np.linspace(0, k - 1, n).astype(np.int64)]
        return torch.from_numpy(x.astype(np.int64)).to(dev)
    va_win = windows(va)
    tr_eval_win = windows(tr, 256)

    @torch.no_grad()
    def evaluate(model, win, bf16=True, bs=64):
        model.eval()
        nats = 0.0
        ntok = 0
        nbytes = 0
        for i in range(0, len(win), bs):
            w = win[i:i + bs]
            x, y = w[:, :-1], w[:, 1:]
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                logits = model(input_ids=x, use_cache=False).logits
            l = F.cross_entropy(logits.float().reshape(-1, V), y.reshape(-1), reduction="none")
            m = (y.reshape(-1) != eot)
            nats += float((l * m).sum())
            ntok += int(m.sum())
            nbytes += int(tok_len_gpu[y.reshape(-1)].sum())
        model.train()
        loss = nats / ntok
        return loss, nats / math.log(2) / nbytes

    # ---------------------------------------------------------------- one training run
    def run(cfg, out_dir, save):
        torch.manual_seed(cfg["seed"])
        random.seed(cfg["seed"])
        np.random.seed(cfg["seed"])
        h, L, I = cfg["hidden"], cfg["layers"], cfg["intermediate"]
        heads, kvh = cfg["heads"], cfg["kv_heads"]
        conf = LlamaConfig(
            vocab_size=V, hidden_size=h, intermediate_size=I, num_hidden_layers=L,
            num_attention_heads=heads, num_key_value_heads=kvh, head_dim=h // heads,
            hidden_act="silu", max_position_embeddings=T, initializer_range=0.02,
            rms_norm_eps=1e-5, tie_word_embeddings=True, attention_bias=False, mlp_bias=False,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
            bos_token_id=eot, eos_token_id=eot, pad_token_id=None)
        model = LlamaForCausalLM(conf).to(dev)
        model.train()
        params = sum(p.numel() for p in model.parameters())  # tied weights counted once
        emb = model.get_input_embeddings().weight
        assert model.get_output_embeddings().weight.data_ptr() == emb.data_ptr(), "embeddings not tied"
        nonemb = params - emb.numel()
        q8 = 0
        for n, p in model.named_parameters():
            q8 += p.numel() * 34 // 32 if p.dim() == 2 else p.numel() * 4
        meta = sum(len(s.encode()) + 8 for s in tok.get_vocab()) + V * 8 + 30000
        try:
            meta += sum(len(m if isinstance(m, str) else " ".join(m)) + 8
                        for m in json.loads(tok.to_str())["model"]["merges"])
        except Exception:
            pass
        log(f"[{cfg['name']}] model: {params} params ({nonemb} non-embedding); "
            f"GGUF Q8_0 estimate {(q8 + meta) / 2**20:.3f} MiB")

        decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "embed" not in n]
        no_decay = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "embed" not in n)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["wd"]},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=cfg["lr"], betas=(0.9, 0.95), eps=1e-8, fused=True)
        fwd = torch.compile(model) if cfg["compile"] else model
        gen = torch.Generator(device=dev)
        gen.manual_seed(cfg["seed"])
        ar = torch.arange(T + 1, device=dev)
        B = cfg["batch"]
        nmax = len(tr_gpu) - T - 1

        total_steps = cfg["steps"]
        warm = cfg["warmup"]
        def lr_at(step):
            if step < warm:
                return cfg["lr"] * (step + 1) / warm
            n = max(total_steps, warm + 1)
            p = min(1.0, (step - warm) / (n - warm))
            return cfg["lr"] * (cfg["min_lr_frac"] + (1 - cfg["min_lr_frac"]) * 0.5 * (1 + math.cos(math.pi * p)))

        rows = []
        acc = torch.zeros((), device=dev)
        acc_n = 0
        step = 0
        t_first = None
        t_time_from = None
        time_from_step = 10
        t_train0 = time.time()
        deadline_hit = False
        while True:
            if total_steps and step >= total_steps:
                break
            lr = lr_at(step)
            for g in opt.param_groups:
                g["lr"] = lr
            off = torch.randint(0, nmax, (B,), device=dev, generator=gen)
            w = tr_gpu[off[:, None] + ar]
            x, y = w[:, :-1], w[:, 1:]
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = fwd(input_ids=x, use_cache=False).logits
            loss = F.cross_entropy(logits.float().reshape(-1, V), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
            opt.step()
            acc += loss.detach()
            acc_n += 1
            step += 1
            if step == 1:
                torch.cuda.synchronize()
                t_first = time.time()
                log(f"[{cfg['name']}] first step (compile) took {t_first - t_train0:.1f}s, loss {loss.item():.3f}")
            if step == time_from_step:
                torch.cuda.synchronize()
                t_time_from = time.time()
            if not total_steps and step == time_from_step + 40:
                torch.cuda.synchronize()
                per = (time.time() - t_time_from) / 40
                spent = time.time() - t_first  # the budget counts steps, not the compile before them
                budget = cfg["train_seconds"]
                if a.deadline and a.reserve:  # end the schedule in time, not cut it short
                    budget = min(budget, spent + a.deadline - a.reserve - (time.time() - T_START))
                total_steps = step + int((budget - spent) / per)
                total_steps = max(total_steps, warm + 50)
                log(f"[{cfg['name']}] {per * 1000:.1f} ms/step, {B * T / per / 1e6:.2f} M tokens/s "
                    f"-> {total_steps} steps")
            last = total_steps and step >= total_steps
            if a.deadline and time.time() - T_START > a.deadline and not last:
                log(f"[{cfg['name']}] deadline reached at step {step}; stopping early")
                deadline_hit = True
                last = True
            if step % a.log_every == 0 or last:
                tl = float(acc) / acc_n
                acc.zero_()
                acc_n = 0
                row = {"step": step, "seconds": round(time.time() - t_train0, 2),
                       "tokens": step * B * T, "lr": f"{lr:.3e}",
                       "train_loss": round(tl, 5), "train_bpb": round(tl / math.log(2) / train_bpt, 5),
                       "val_loss": "", "val_bpb": ""}
                if step % a.eval_every == 0 or last:
                    vl, vb = evaluate(model, va_win[::4] if not last else va_win)
                    row["val_loss"], row["val_bpb"] = round(vl, 5), round(vb, 5)
                    log(f"[{cfg['name']}] step {step}/{total_steps} lr {lr:.2e} train {tl:.4f} "
                        f"val {vl:.4f} nats/token = {vb:.4f} bpb")
                rows.append(row)
            if last:
                break
        torch.cuda.synchronize()
        train_seconds = time.time() - t_train0
        compile_seconds = t_first - t_train0
        tokens_seen = step * B * T

        vl32, vb32 = evaluate(model, va_win, bf16=False)
        tl32, tb32 = evaluate(model, tr_eval_win, bf16=False)
        per_source = {}
        for src, texts in sorted(val_by_source.items()):
            ids = join(encode_all(texts))
            if len(ids) > T + 1:
                w = windows(ids)
                l, b = evaluate(model, w[:256], bf16=False)
                per_source[src] = {"val_bpb": round(b, 4), "val_bytes": sum(len(t.encode()) for t in texts),
                                   "windows": int(min(len(w), 256))}
                log(f"[{cfg['name']}]   val {src:22s} {b:.4f} bpb")
        log(f"[{cfg['name']}] done: {step} steps, {tokens_seen / 1e6:.1f} M tokens in {train_seconds:.1f}s; "
            f"fp32 val {vl32:.4f} nats/token {vb32:.4f} bpb, train sample {tl32:.4f} / {tb32:.4f} bpb")
        summary = {
            "name": cfg["name"], "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "gpu": gpu, "torch": torch.__version__, "transformers": transformers.__version__,
            "command": " ".join(sys.argv),
            "config": {k: cfg[k] for k in ("hidden", "layers", "heads", "kv_heads", "intermediate", "batch",
                                           "lr", "min_lr_frac", "warmup", "wd", "clip", "seed", "compile")},
            "seq_len": T, "vocab": V,
            "params": params, "non_embedding_params": nonemb,
            "gguf_q8_0_bytes_estimate": q8 + meta,
            "steps": step, "planned_steps": total_steps, "stopped_by_deadline": deadline_hit,
            "tokens_seen": tokens_seen,
            "epochs": tokens_seen / len(tr),
            "train_seconds": round(train_seconds, 1),
            "first_step_seconds": round(compile_seconds, 1),
            "tokens_per_second": round(tokens_seen / train_seconds),
            "tokenizer_seconds": round(tok_seconds, 1),
            "corpus": {"train_books": len(train_texts), "train_bytes": train_bytes, "train_tokens": len(tr),
                       "val_books": len(val_texts), "val_bytes": val_bytes_total, "val_tokens": len(va),
                       "val_bytes_scored": int(sum(int(tok_len_gpu[va_win[i, 1:]].sum()) for i in range(len(va_win)))),
                       "train_bytes_per_token": round(train_bpt, 4)},
            "final": {"val_loss_nats_per_token": round(vl32, 5), "val_bpb": round(vb32, 5),
                      "train_loss_nats_per_token": round(tl32, 5), "train_bpb": round(tb32, 5),
                      "note": "float32 evaluation; val = all held-out books in non-overlapping 512-token "
                              "windows; train = 256 windows spread over the training tokens; bpb = nats / ln 2 "
                              "/ bytes of the scored tokens (<|endoftext|> separators not scored)"},
            "last_logged_train_loss_bf16": rows[-1]["train_loss"],
            "val_by_source": per_source,
        }
        if save:
            save_model(model, out_dir, rows, summary)
        del fwd, opt
        return model, rows, summary

    def save_model(model, out_dir, rows, summary):
        if a.save_dtype == "float16":
            model.to(torch.float16)
        model.save_pretrained(out_dir, safe_serialization=True)
        gc = os.path.join(out_dir, "generation_config.json")
        if os.path.exists(gc):
            os.remove(gc)
        cp = os.path.join(out_dir, "config.json")
        with open(cp) as fh:
            c = json.load(fh)
        c.setdefault("rope_theta", 10000.0)  # older readers look for it here
        with open(cp, "w") as fh:
            json.dump(c, fh, indent=2, sort_keys=True)
        with open(os.path.join(out_dir, "train_log.csv"), "w", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
            wr.writeheader()
            wr.writerows(rows)
        from safetensors import safe_open
        with safe_open(os.path.join(out_dir, "model.safetensors"), "pt") as f:
            summary["safetensors"] = {k: [list(f.get_slice(k).get_shape()), str(f.get_slice(k).get_dtype())]
                                      for k in f.keys()}
        with open(os.path.join(out_dir, "summary.json"), "w") as fh:
            json.dump(summary, fh, indent=2)
        log(f"saved to {out_dir}: {sorted(os.listdir(out_dir))}")

    base = {"name": "main", "hidden": a.hidden, "layers": a.layers, "heads": a.heads, "kv_heads": a.kv_heads,
            "intermediate": a.intermediate, "batch": a.batch, "lr": a.lr, "min_lr_frac": a.min_lr_frac,
            "warmup": a.warmup, "wd": a.wd, "clip": a.clip, "seed": a.seed, "compile": a.compile,
            "steps": a.steps, "train_seconds": a.train_seconds}
    if not a.sweep:
        run(base, a.out, True)
        return
    results = []
    best = None
    for spec in a.sweep.split(";"):
        name, _, kvs = spec.partition(":")
        cfg = dict(base, name=name)
        for kv in filter(None, kvs.split(",")):
            k, v = kv.split("=")
            cfg[k] = type(base[k])(float(v)) if isinstance(base[k], int) else type(base[k])(v)
        model, rows, s = run(cfg, a.out, False)
        results.append(s)
        if best is None or s["final"]["val_bpb"] < best[2]["final"]["val_bpb"]:
            best = (model, rows, s)
        else:
            del model
        torch.cuda.empty_cache()
    print("\nsweep results:")
    print(f"{'name':10s} {'params':>8s} {'steps':>6s} {'Mtok':>7s} {'tok/s':>10s} {'val_bpb':>8s} {'train_bpb':>9s}")
    for s in results:
        print(f"{s['name']:10s} {s['params']:8d} {s['steps']:6d} {s['tokens_seen'] / 1e6:7.1f} "
              f"{s['tokens_per_second']:10d} {s['final']['val_bpb']:8.4f} {s['final']['train_bpb']:9.4f}")
    with open(os.path.join(a.out, "sweep.json"), "w") as fh:
        json.dump(results, fh, indent=2)
    save_model(best[0], a.out, best[1], best[2])


if __name__ == "__main__":
    main()
