#!/usr/bin/env python3
"""Cut a smaller training corpus for fine-tuning out of the default model's corpus.tar.

  python3 tools/train/finetune_subset.py [--corpus .device/train/default/corpus.tar]
      [--out .device/train/finetune/corpus.tar] [--max-mib 20] [--seed 1] [--share S]

The subset keeps every validation document (so its validation numbers are the default model's,
document for document) and, from every source, a seeded random share of the training documents:
the source's training documents are shuffled with random.Random("hlz-finetune:SEED:SOURCE") and
taken whole, in that order, while the source has less than SHARE of its training bytes. A source
therefore keeps at least one training document (foldoc and jargon are one document each), and the
mix of sources stays that of the full corpus, give or take one document per source.

Without --share, SHARE is the largest multiple of 0.005 whose tar is at most --max-mib MiB (2^20
bytes): it is estimated from each source's xz ratio in the full tar, then the tar is written and,
should it come out too big, written again with the largest share that the estimate, scaled by the
measured overshoot, lets through (and so on).

The output has the format train.py's read_tar_corpus reads, written as default_corpus.py writes
it: manifest.tsv (the full manifest's rows that were kept, in their order, same columns) and
SOURCE.bin.xz for every source (xz preset 9; records of an 8-byte little-endian length and the
text, in manifest order). It is read back through read_tar_corpus before the script ends.
"""
import argparse
import csv
import hashlib
import io
import lzma
import os
import random
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from train import read_records, read_tar_corpus  # noqa: E402  (train.py imports torch only in main)

MIB = 2 ** 20
STEP = 0.005  # share grid: a share that reads as a plain number reproduces with --share


def load(path):
    """corpus.tar -> (manifest columns, rows, {source: [texts in manifest order]}, {source: xz bytes})."""
    with tarfile.open(path) as tf:
        text = tf.extractfile("manifest.tsv").read().decode()
        reader = csv.DictReader(text.splitlines(), delimiter="\t")
        rows = list(reader)
        blobs, packed = {}, {}
        for m in tf:
            if m.name.endswith(".bin.xz"):
                src = m.name[:-7]
                packed[src] = m.size
                blobs[src] = iter(read_records(lzma.decompress(tf.extractfile(m).read())))
    texts = {}
    for r in rows:
        t = next(blobs[r["source"]])
        if hashlib.sha256(t).hexdigest() != r["sha256"] or len(t) != int(r["bytes"]):
            sys.exit(f"{path}: {r['name']} does not match its manifest row")
        texts.setdefault(r["source"], []).append(t)
    return reader.fieldnames, rows, texts, packed


def choose(rows, share, seed):
    """Indices (into rows) of the kept documents: every val one, and each source's share of train."""
    keep = {i for i, r in enumerate(rows) if r["split"] == "val"}
    by_src = {}
    for i, r in enumerate(rows):
        if r["split"] == "train":
            by_src.setdefault(r["source"], []).append(i)
    for src in sorted(by_src):
        idx = by_src[src]
        target = share * sum(int(rows[i]["bytes"]) for i in idx)
        order = idx[:]
        random.Random(f"hlz-finetune:{seed}:{src}").shuffle(order)
        total = 0
        for i in order:
            if total >= target:
                break
            keep.add(i)
            total += int(rows[i]["bytes"])
    return keep


def estimate(rows, keep, ratio):
    """Tar bytes, from each source's xz ratio in the full tar, plus the manifest and tar headers."""
    body = sum(int(rows[i]["bytes"]) * ratio[rows[i]["source"]] for i in keep)
    manifest = sum(len("\t".join(rows[i].values())) + 1 for i in keep) + 100
    return body + manifest + 2048 * (len(ratio) + 3)


def write(path, fields, rows, texts, keep):
    """Writes the subset tar; returns its size in bytes."""
    buf = io.StringIO()
    wr = csv.DictWriter(buf, fieldnames=fields, delimiter="\t", lineterminator="\n")
    wr.writeheader()
    bins = {}
    at = {}
    for i, r in enumerate(rows):
        src = r["source"]
        k = at.get(src, 0)
        at[src] = k + 1
        if i in keep:
            wr.writerow(r)
            t = texts[src][k]
            bins.setdefault(src, []).append(len(t).to_bytes(8, "little") + t)
    sources = sorted(bins)
    # two xz streams at a time (lzma releases the GIL); preset 9 as default_corpus.py's xz -9
    with ThreadPoolExecutor(2) as ex:
        packed = list(ex.map(lambda s: lzma.compress(b"".join(bins[s]), preset=9), sources))
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".part"
    with tarfile.open(tmp, "w") as tf:
        for name, data in [("manifest.tsv", buf.getvalue().encode())] + \
                [(s + ".bin.xz", p) for s, p in zip(sources, packed)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    os.replace(tmp, path)
    return os.path.getsize(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=os.path.join(REPO, ".device", "train", "default", "corpus.tar"))
    ap.add_argument("--out", default=os.path.join(REPO, ".device", "train", "finetune", "corpus.tar"))
    ap.add_argument("--max-mib", type=float, default=20.0, help="size limit of the tar, in 2^20 bytes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--share", type=float, help="fixed share of each source's training bytes (no search)")
    a = ap.parse_args()
    limit = int(a.max_mib * MIB)

    fields, rows, texts, packed = load(a.corpus)
    raw = {}
    for r in rows:
        raw[r["source"]] = raw.get(r["source"], 0) + int(r["bytes"])
    ratio = {s: packed[s] / raw[s] for s in raw}

    if a.share is not None:
        shares = [a.share]
    else:
        n = int(round(1 / STEP))
        grid = [round(k * STEP, 3) for k in range(n, -1, -1)]
        first = next(k for k, s in enumerate(grid) if estimate(rows, choose(rows, s, a.seed), ratio) <= limit)
        shares = grid[first:]
    factor = 1.0  # measured tar size / estimate: a smaller share's streams pack a little worse
    while shares:
        share = shares.pop(0)
        keep = choose(rows, share, a.seed)
        size = write(a.out, fields, rows, texts, keep)
        est = estimate(rows, keep, ratio)
        print(f"share {share:.3f}: {size} bytes ({size / MIB:.2f} MiB), estimated {est / MIB:.2f} MiB",
              flush=True)
        if size <= limit:
            break
        # each write takes minutes: skip the shares that the corrected estimate already rules out
        factor = max(factor, size / est)
        shares = [s for s in shares if estimate(rows, choose(rows, s, a.seed), ratio) * factor <= limit]
    if size > limit:
        sys.exit(f"{a.out}: {size} bytes, over the {limit}-byte limit")

    # read it back exactly as training will, and check what it must hold
    train, val, val_by, got = read_tar_corpus(a.out)
    want_val = [r for r in rows if r["split"] == "val"]
    assert [r["sha256"] for r in got if r["split"] == "val"] == [r["sha256"] for r in want_val]
    assert len(got) == len(keep) and len(train) + len(val) == len(got)
    for r in got:  # the held-out rule of default_corpus.py, unchanged
        assert (r["split"] == "val") == (int(r["sha256"][:8], 16) % 64 == 0), r["name"]

    print(f"{'source':22s} {'docs':>6s} {'of':>6s} {'train MB':>9s} {'of':>8s} {'share':>6s} {'val MB':>7s}")
    for src in sorted(raw):
        tr_all = [r for r in rows if r["source"] == src and r["split"] == "train"]
        tr_got = [r for r in got if r["source"] == src and r["split"] == "train"]
        b_all = sum(int(r["bytes"]) for r in tr_all)
        b_got = sum(int(r["bytes"]) for r in tr_got)
        v = sum(int(r["bytes"]) for r in got if r["source"] == src and r["split"] == "val")
        print(f"{src:22s} {len(tr_got):6d} {len(tr_all):6d} {b_got / 1e6:9.2f} {b_all / 1e6:8.2f} "
              f"{b_got / max(b_all, 1):6.3f} {v / 1e6:7.2f}")
    tb = sum(len(t.encode()) for t in train)
    vb = sum(len(t.encode()) for t in val)
    print(f"{a.out}: {size} bytes ({size / MIB:.2f} MiB), share {share:.3f}, seed {a.seed}; "
          f"{len(train)} train documents {tb} B, {len(val)} val documents {vb} B "
          f"(about {tb / 3.02 / 1e6:.1f} M train tokens at the default tokenizer's 3.02 B/token)")


if __name__ == "__main__":
    main()
