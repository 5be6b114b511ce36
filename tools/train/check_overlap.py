#!/usr/bin/env python3
"""Prove that no 12-word run of a benchmark file appears in training text.

A "word" is a whitespace-separated token of the raw bytes (bytes.split(), so
CRLF and LF split alike); a shingle is 12 consecutive words joined by one space.
Every shingle of every file under the bench folder (all of them, binary ones
included) goes into a set; every shingle of every training file is looked up
in it. The comparison is exact (the shingle bytes themselves, no hash).

Usage:
  check_overlap.py [--bench DIR] [--n 12] [--exclude-out FILE] PATH...

PATH is a file or a folder (searched recursively, sorted); a file named *.bin holds records
(tools/train/default_corpus.py), each checked as its own document. Prints one line per
training file that shares at least one shingle, the total, and exits 1 when any
overlap exists. --exclude-out writes the offending file names, one a line.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BENCH = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "bench"))


def files_under(path):
    if os.path.isfile(path):
        return [path]
    out = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for n in sorted(names):
            out.append(os.path.join(root, n))
    return out


def documents(paths):
    """(name, bytes) of every training document: a file, or each record of a SOURCE.bin file of
    tools/train/default_corpus.py (8-byte little-endian length, then the text), named FILE#INDEX."""
    for f in paths:
        with open(f, "rb") as fh:
            data = fh.read()
        if not f.endswith(".bin"):
            yield f, data
            continue
        at = i = 0
        while at < len(data):
            n = int.from_bytes(data[at:at + 8], "little")
            yield f"{f}#{i}", data[at + 8:at + 8 + n]
            at, i = at + 8 + n, i + 1


def shingles(data, n):
    w = data.split()
    for i in range(len(w) - n + 1):
        yield b" ".join(w[i:i + n])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", default=DEFAULT_BENCH)
    ap.add_argument("--n", type=int, default=12, help="words per shingle")
    ap.add_argument("--exclude-out", help="write offending file names here")
    ap.add_argument("--show", type=int, default=2, help="example shingles to print per file")
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()

    t0 = time.time()
    bench = {}  # shingle -> first bench file holding it
    bench_files = [f for f in files_under(a.bench)
                   if os.path.basename(f) not in ("README.md", "SHA256SUMS")]
    for f in bench_files:
        with open(f, "rb") as fh:
            data = fh.read()
        before = len(bench)
        for s in shingles(data, a.n):
            bench.setdefault(s, os.path.relpath(f, a.bench))
        print(f"bench {os.path.relpath(f, a.bench)}: {len(bench) - before} new shingles")
    print(f"bench: {len(bench_files)} files, {len(bench)} distinct {a.n}-word shingles")

    train_files = []
    for p in a.paths:
        train_files += files_under(p)
    total_hits = 0
    ndocs = 0
    total_shingles = 0
    total_bytes = 0
    bad = []
    for f, data in documents(train_files):
        ndocs += 1
        total_bytes += len(data)
        hits = {}
        k = 0
        for s in shingles(data, a.n):
            k += 1
            src = bench.get(s)
            if src is not None:
                hits.setdefault(s, src)
        total_shingles += k
        if hits:
            nh = len(hits)
            total_hits += nh
            bad.append(f)
            srcs = sorted(set(hits.values()))
            print(f"OVERLAP {os.path.basename(f)}: {nh} distinct shingles (bench: {', '.join(srcs)})")
            for s in list(hits)[:a.show]:
                print("    " + s.decode("utf-8", "replace")[:160])
    print(f"scanned {len(train_files)} training files ({ndocs} documents), {total_bytes} bytes, {total_shingles} shingles "
          f"in {time.time() - t0:.1f} s")
    print(f"overlapping distinct shingles: {total_hits}; files with overlap: {len(bad)}")
    if a.exclude_out:
        with open(a.exclude_out, "w") as fh:
            for f in bad:
                fh.write(os.path.basename(f) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
