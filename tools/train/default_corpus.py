#!/usr/bin/env python3
"""Build the default model's training corpus: public-domain books plus Debian's openly licensed text.

  python3 tools/train/debian_corpus.py                 # -> .device/train/debian (Debian text)
  python3 tools/train/default_corpus.py [--books-mb 90] # -> .device/train/default (the corpus)

Books: ../shared/corpus/books less tools/train/overlap_exclude.txt, sorted, shuffled with --seed,
taken whole until --books-mb (10^6 bytes); CRLF becomes LF. Debian text: what debian_corpus.py
collected (its manifest names package, version, licence and path of every file).

Every document (a book, a Debian file) is checked against ../shared/bench exactly as
check_overlap.py does: a document holding any 12-word run of any benchmark file is dropped, and
named in OUT/overlap_dropped.tsv. A document goes to validation when the first 8 hex digits of its
sha256, as a number, are divisible by 64 (about 1 in 64, stable whatever else is added).

Writes OUT/SOURCE.bin for each source (records: 8-byte little-endian length, then the text, in
manifest order), OUT/manifest.tsv (source, split, name, bytes, sha256, licence, genre), and
OUT/corpus.tar, the .bin files compressed with xz -9 plus the manifest, for carrying to the GPU
machine (tools/train/train_default.py reads either form).
"""
import argparse
import csv
import hashlib
import os
import random
import struct
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from check_overlap import DEFAULT_BENCH, files_under, shingles  # noqa: E402

BOOKS = os.path.normpath(os.path.join(REPO, "..", "shared", "corpus", "books"))


def read_records(path):
    with open(path, "rb") as fh:
        data = fh.read()
    at, out = 0, []
    while at < len(data):
        (n,) = struct.unpack_from("<Q", data, at)
        out.append(data[at + 8:at + 8 + n])
        at += 8 + n
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--books", default=BOOKS)
    ap.add_argument("--debian", default=os.path.join(REPO, ".device", "train", "debian"))
    ap.add_argument("--bench", default=DEFAULT_BENCH)
    ap.add_argument("--out", default=os.path.join(REPO, ".device", "train", "default"))
    ap.add_argument("--books-mb", type=float, default=90.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    bench = {}
    for f in files_under(a.bench):
        if os.path.basename(f) in ("README.md", "SHA256SUMS"):
            continue
        with open(f, "rb") as fh:
            for s in shingles(fh.read(), 12):
                bench.setdefault(s, os.path.relpath(f, a.bench))
    print(f"bench: {len(bench)} distinct 12-word shingles", flush=True)

    docs = {}  # source -> list of (name, text, licence, genre)
    with open(os.path.join(HERE, "overlap_exclude.txt")) as fh:
        excluded = {ln.strip() for ln in fh if ln.strip() and not ln.startswith("#")}
    names = sorted(n for n in os.listdir(a.books) if n.endswith(".txt") and n not in excluded)
    random.Random(a.seed).shuffle(names)
    total = 0
    for n in names:
        if total >= a.books_mb * 1e6:
            break
        with open(os.path.join(a.books, n), "rb") as fh:
            text = fh.read().replace(b"\r\n", b"\n")
        docs.setdefault("books", []).append((n, text, "public domain (Project Gutenberg)", "books"))
        total += len(text)
    with open(os.path.join(a.debian, "manifest.tsv")) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    texts = {}
    for r in rows:
        src = r["source"]
        if src not in texts:
            texts[src] = iter(read_records(os.path.join(a.debian, "docs", src + ".bin")))
        text = next(texts[src])
        assert hashlib.sha256(text).hexdigest() == r["sha256"], r["path"]
        docs.setdefault(src, []).append((f"{r['package']}_{r['version']}:{r['path']}", text,
                                         r["licence"], r["genre"]))

    os.makedirs(a.out, exist_ok=True)
    manifest, dropped = [], []
    for src in sorted(docs):
        with open(os.path.join(a.out, src + ".bin"), "wb") as out:
            for name, text, licence, genre in docs[src]:
                hits = {s for s in shingles(text, 12) if s in bench}
                if hits:
                    dropped.append((src, name, len(hits), sorted({bench[s] for s in hits})))
                    continue
                h = hashlib.sha256(text).hexdigest()
                split = "val" if int(h[:8], 16) % 64 == 0 else "train"
                out.write(struct.pack("<Q", len(text)) + text)
                manifest.append((src, split, name, len(text), h, licence, genre))
        kept = [m for m in manifest if m[0] == src]
        print(f"{src:22s} {len(kept):6d} docs {sum(m[3] for m in kept) / 1e6:7.2f} MB "
              f"({sum(m[3] for m in kept if m[1] == 'val') / 1e6:.2f} MB val)", flush=True)
    with open(os.path.join(a.out, "manifest.tsv"), "w") as fh:
        fh.write("source\tsplit\tname\tbytes\tsha256\tlicence\tgenre\n")
        for m in manifest:
            fh.write("\t".join(str(x) for x in m) + "\n")
    with open(os.path.join(a.out, "overlap_dropped.tsv"), "w") as fh:
        fh.write("source\tname\tshingles\tbench_files\n")
        for d in dropped:
            fh.write(f"{d[0]}\t{d[1]}\t{d[2]}\t{','.join(d[3])}\n")
    print(f"{len(manifest)} documents, {sum(m[3] for m in manifest) / 1e6:.1f} MB; "
          f"{len(dropped)} dropped for a 12-word run shared with ../shared/bench", flush=True)

    sources = sorted(docs)
    subprocess.run(["xz", "-9", "-f", "-k", "-T2"] + [os.path.join(a.out, s + ".bin") for s in sources],
                   check=True)
    with tarfile.open(os.path.join(a.out, "corpus.tar"), "w") as tf:
        tf.add(os.path.join(a.out, "manifest.tsv"), "manifest.tsv")
        for s in sources:
            tf.add(os.path.join(a.out, s + ".bin.xz"), s + ".bin.xz")
            os.remove(os.path.join(a.out, s + ".bin.xz"))
    print(f"corpus.tar: {os.path.getsize(os.path.join(a.out, 'corpus.tar')) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
