#!/usr/bin/env python3
"""Build the training-text subset for the stand-in model, reproducibly.

Takes the public-domain books of ../shared/corpus/books (never committed to
this repository), drops the ones listed in tools/train/overlap_exclude.txt
(they share a 12-word run with a benchmark file), orders the rest by name,
shuffles them with a fixed seed and takes whole books: first a validation set
of at least --val-frac of the target size, then training books until the total
reaches --mb megabytes (10^6 bytes).

The only change made to the text: CRLF line endings become LF (the source
files use CRLF, most files people compress use LF). Lone CRs are kept, nothing
else is touched (no Unicode normalisation, no whitespace stripping).

Writes into --out (default .device/train/corpus, an ignored folder):
  books/NAME          the converted books
  manifest.tsv        order, split (train|val), name, source bytes, bytes, sha256
Usage: python3 tools/train/make_corpus.py [--mb 40] [--seed 1] [--out DIR]
"""
import argparse
import hashlib
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_BOOKS = os.path.normpath(os.path.join(REPO, "..", "shared", "corpus", "books"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--books", default=DEFAULT_BOOKS)
    ap.add_argument("--out", default=os.path.join(REPO, ".device", "train", "corpus"))
    ap.add_argument("--exclude", default=os.path.join(HERE, "overlap_exclude.txt"))
    ap.add_argument("--mb", type=float, default=40.0, help="total size in 10^6 bytes")
    ap.add_argument("--val-frac", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    excluded = set()
    with open(a.exclude) as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#"):
                excluded.add(line)
    names = sorted(n for n in os.listdir(a.books) if n.endswith(".txt"))
    missing = excluded - set(names)
    if missing:
        print(f"warning: excluded names not found: {sorted(missing)}", file=sys.stderr)
    names = [n for n in names if n not in excluded]
    random.Random(a.seed).shuffle(names)

    target = int(a.mb * 1e6)
    val_target = int(a.val_frac * target)
    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    os.makedirs(os.path.join(a.out, "books"))

    rows = []
    total = val = 0
    for n in names:
        if total >= target:
            break
        with open(os.path.join(a.books, n), "rb") as fh:
            src = fh.read()
        data = src.replace(b"\r\n", b"\n")
        split = "val" if val < val_target else "train"
        if split == "val":
            val += len(data)
        total += len(data)
        with open(os.path.join(a.out, "books", n), "wb") as fh:
            fh.write(data)
        rows.append((len(rows), split, n, len(src), len(data), hashlib.sha256(data).hexdigest()))

    with open(os.path.join(a.out, "manifest.tsv"), "w") as fh:
        fh.write("order\tsplit\tfile\tsource_bytes\tbytes\tsha256\n")
        for r in rows:
            fh.write("\t".join(str(x) for x in r) + "\n")
    ntrain = sum(1 for r in rows if r[1] == "train")
    print(f"{len(rows)} books ({ntrain} train, {len(rows) - ntrain} val) of {len(names)} eligible "
          f"({len(excluded)} excluded); {total} bytes ({total - val} train, {val} val) -> {a.out}")


if __name__ == "__main__":
    main()
