#!/usr/bin/env python3
"""Collect openly licensed text from Debian packages, reproducibly, for the default model.

  python3 tools/train/debian_corpus.py [--out .device/train/debian] [--scale 1.0]

Each SOURCE below names a Debian 12 package, the files to take from it (shell patterns on the
paths inside the package), its licence and genre, and a cap in megabytes (10^6 bytes, times
--scale). Packages are fetched with `apt-get download` (no install, no root needed beyond apt's
lists) and unpacked with `dpkg -x` into OUT/root/PKG. Files are listed sorted, shuffled with a
seed derived from the source name, and taken whole until the cap; exact duplicates (sha256) are
dropped, and so is anything that is not valid UTF-8 or holds NUL bytes. Text is taken as it is
(raw HTML, roff, JSON, code: markup is part of what hlz must compress), except that CRLF becomes
LF. Compressed members (.gz, .dz, the kernel's tar.xz, the JDK's src.zip) are read through. A file that
would take a source more than 10% past its cap is passed over for smaller ones.

Writes OUT/docs/SOURCE.bin (records: 8-byte little-endian length, then the text) and
OUT/manifest.tsv (source, package, version, licence, genre, path, bytes, sha256).
tools/train/make_corpus.py combines this with the books.
"""
import argparse
import fnmatch
import gzip
import hashlib
import io
import os
import random
import struct
import subprocess
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

# name, package, include patterns, exclude patterns, cap MB, licence, genre
SOURCES = [
    ("linux-doc", "linux-source-6.1", ["*/Documentation/*.rst", "*/Documentation/*.txt"], [],
     14, "GPL-2.0", "documentation (reStructuredText)"),
    ("linux-c", "linux-source-6.1", ["*/kernel/*.[ch]", "*/mm/*.[ch]", "*/lib/*.[ch]", "*/fs/*.[ch]", "*/net/*.[ch]"], [],
     14, "GPL-2.0", "C source"),
    ("linux-config", "linux-source-6.1", ["*/Kconfig*", "*/Makefile", "*/Documentation/devicetree/*.yaml"], [],
     4, "GPL-2.0", "configuration, Makefiles, YAML"),
    ("python-doc", "python3.11-doc", ["*/html/_sources/*.txt"], [], 7, "PSF-2.0", "documentation (reST)"),
    ("python-html", "python3.11-doc", ["*/html/library/*.html", "*/html/reference/*.html"], [],
     2, "PSF-2.0", "HTML"),
    ("python-code", "libpython3.11-stdlib", ["*.py"], ["*/test/*", "*/tests/*"], 8, "PSF-2.0", "Python source"),
    ("postgresql-html", "postgresql-doc-15", ["*/html/*.html"], [], 6, "PostgreSQL", "HTML documentation"),
    ("perl-pod", "perl-doc", ["*/pod/*.pod"], [], 5, "GPL-1+ or Artistic", "documentation (POD)"),
    ("man-roff", "manpages", ["*/man/man*/*.gz"], ["*/xargs.1*"], 3, "various free (see copyright)", "roff"),
    ("man-roff-dev", "manpages-dev", ["*/man/man*/*.gz"], [], 4, "various free (see copyright)", "roff"),
    ("vim-help", "vim-runtime", ["*/doc/*.txt"], [], 5, "Vim", "documentation (plain text)"),
    ("vim-script", "vim-runtime", ["*.vim"], [], 3, "Vim", "Vim script"),
    ("sqlite-html", "sqlite3-doc", ["*.html"], [], 3, "public domain", "HTML documentation"),
    ("django-html", "python-django-doc", ["*/html/*.html"], ["*/releases/*", "*/genindex.html", "*/py-modindex.html"],
     3, "BSD-3-Clause", "HTML documentation"),
    ("git-doc", "git-doc", ["*.txt"], [], 3, "GPL-2.0", "documentation (AsciiDoc)"),
    ("rust-code", "rust-src", ["*/library/*.rs", "*/compiler/*.rs"], ["*/test/*", "*/tests/*"],
     8, "MIT or Apache-2.0", "Rust source"),
    ("go-code", "golang-1.19-src", ["*/src/*.go"], ["*_test.go", "*/testdata/*"], 8, "BSD-3-Clause",
     "Go source"),
    ("java-code", "openjdk-17-source", ["*src.zip!java.base/*.java", "*src.zip!java.desktop/*.java"], [],
     6, "GPL-2.0 with Classpath exception", "Java source"),
    ("elisp-code", "emacs-el", ["*.el.gz"], [], 5, "GPL-3.0+", "Emacs Lisp source"),
    ("ruby-code", "libruby3.1", ["*.rb"], [], 3, "Ruby or BSD-2-Clause", "Ruby source"),
    ("ansible-yaml", "ansible", ["*.yml", "*.yaml"], [], 3, "GPL-3.0+", "YAML"),
    ("ansible-code", "ansible", ["*/plugins/modules/*.py"], [], 2, "GPL-3.0+", "Python source"),
    ("cdda-json", "cataclysm-dda-data", ["*.json"], [], 4, "CC-BY-SA-3.0", "JSON data"),
    ("debian-handbook", "debian-handbook", ["*/html/en-US/*.html"], [], 3, "GPL-2.0+ or CC-BY-SA-3.0",
     "HTML manual"),
    ("debian-policy", "debian-policy", ["*/_sources/*.txt", "*.txt"], [], 1, "GPL-2.0+", "documentation"),
    ("developers-reference", "developers-reference", ["*/_sources/*.txt"], [], 1, "MIT", "documentation"),
    ("maint-guide", "maint-guide", ["*/html/*.en.html"], [], 1, "MIT", "HTML manual"),
    ("foldoc", "dict-foldoc", ["*.dict.dz"], [], 6, "GFDL-1.1+", "computing dictionary"),
    ("jargon", "dict-jargon", ["*.dict.dz"], [], 1.5, "public domain", "hacker dictionary"),
    ("typescript", "node-typescript", ["*/lib/*.d.ts"], [], 4, "Apache-2.0",
     "TypeScript and JavaScript"),
    ("mime-xml", "shared-mime-info", ["*.xml", "*.its"], [], 2.5, "GPL-2.0+", "XML"),
]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def fetch(pkg, root, debs):
    """Downloads and unpacks one package (once); returns (version, unpacked folder)."""
    os.makedirs(debs, exist_ok=True)
    found = [f for f in sorted(os.listdir(debs)) if f.startswith(pkg + "_") and f.endswith(".deb")]
    if not found:
        run(["apt-get", "download", pkg], cwd=debs, stdout=subprocess.DEVNULL)
        found = [f for f in sorted(os.listdir(debs)) if f.startswith(pkg + "_") and f.endswith(".deb")]
    deb = os.path.join(debs, found[-1])
    version = subprocess.run(["dpkg-deb", "-f", deb, "Version"], check=True, capture_output=True,
                             text=True).stdout.strip()
    dest = os.path.join(root, pkg)
    if not os.path.isdir(dest):
        os.makedirs(dest + ".part", exist_ok=True)
        run(["dpkg", "-x", deb, dest + ".part"])
        os.rename(dest + ".part", dest)
    return version, dest


def members(folder):
    """Yields (path, reader) for every file in the unpacked package, looking into the kernel's
    source tarball and the JDK's src.zip, whose members are named ARCHIVE!MEMBER."""
    for top, dirs, names in os.walk(folder):
        dirs.sort()
        for n in sorted(names):
            p = os.path.join(top, n)
            rel = os.path.relpath(p, folder)
            if os.path.islink(p):
                continue
            if n.endswith(".tar.xz") and "linux-source" in n:
                with tarfile.open(p, "r:xz") as tf:
                    for m in tf:
                        if m.isfile():
                            yield m.name, (lambda tf=tf, m=m: tf.extractfile(m).read())
                        # members are read in order: the reader is used before the next one
            elif n == "src.zip":
                with zipfile.ZipFile(p) as zf:
                    for m in sorted(zf.namelist()):
                        yield rel + "!" + m, (lambda zf=zf, m=m: zf.read(m))
            else:
                yield rel, (lambda p=p: open(p, "rb").read())


def decode(path, raw):
    if path.endswith(".gz") or path.endswith(".dz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return None
    if b"\0" in raw:
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return raw.replace(b"\r\n", b"\n")


def matches(path, pats):
    return any(fnmatch.fnmatch(path, p) for p in pats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, ".device", "train", "debian"))
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every cap")
    ap.add_argument("--only", help="comma-separated source names")
    a = ap.parse_args()
    root, debs, docs = (os.path.join(a.out, d) for d in ("root", "debs", "docs"))
    os.makedirs(docs, exist_ok=True)
    seen = set()
    rows = []
    by_pkg = {}
    for s in SOURCES:
        by_pkg.setdefault(s[1], []).append(s)
    for pkg in sorted(by_pkg):
        sources = [s for s in by_pkg[pkg] if not a.only or s[0] in a.only.split(",")]
        if not sources:
            continue
        version, folder = fetch(pkg, root, debs)
        # One pass over the package collects candidates for all of its sources; a file goes to the
        # first source that matches it. Texts are kept only for files that can still be taken, so
        # the kernel's tarball is read once.
        cand = {s[0]: [] for s in sources}
        for path, read in members(folder):
            for s in sources:
                if matches(path, s[2]) and not matches(path, s[3]):
                    text = decode(path, read())
                    if text:
                        cand[s[0]].append((path, text))
                    break
        for name, _, _, _, cap, licence, genre in sources:
            files = sorted(cand[name])
            random.Random("hlz:" + name).shuffle(files)
            limit = int(cap * a.scale * 1e6)
            total = 0
            with open(os.path.join(docs, name + ".bin"), "wb") as out:
                for path, text in files:
                    if total >= limit:
                        break
                    if total + len(text) > limit * 1.1:
                        continue  # one huge file would swamp the cap: try smaller ones
                    h = hashlib.sha256(text).hexdigest()
                    if h in seen:
                        continue
                    seen.add(h)
                    out.write(struct.pack("<Q", len(text)))
                    out.write(text)
                    total += len(text)
                    rows.append((name, pkg, version, licence, genre, path, len(text), h))
            n = sum(1 for r in rows if r[0] == name)
            print(f"{name:22s} {pkg:22s} {n:6d} files {total / 1e6:7.2f} MB of {len(files)} candidates",
                  flush=True)
    with open(os.path.join(a.out, "manifest.tsv"), "w") as fh:
        fh.write("source\tpackage\tversion\tlicence\tgenre\tpath\tbytes\tsha256\n")
        for r in rows:
            fh.write("\t".join(str(x) for x in r) + "\n")
    print(f"{len(rows)} files, {sum(r[6] for r in rows) / 1e6:.1f} MB -> {a.out}")


if __name__ == "__main__":
    sys.exit(main())
