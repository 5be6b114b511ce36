#!/bin/sh
# tools/robust/mismatch.sh - the real mismatch experiment (robust_mismatch.c)
# on the English texts of ../shared/bench: the first BYTES (default 6000) of
# each, encoded by the integer engine, decoded with float32 probabilities.
set -eu
BYTES=${1:-6000}
MODEL=${HLZ_MODEL:-models/stand-in/stand-in.gguf}
SHARED=${HLZ_SHARED_DIR:-../shared}
make -s build/robust-mismatch
for f in canterbury/alice29.txt canterbury/asyoulik.txt canterbury/lcet10.txt canterbury/plrabn12.txt enwik/enwik5; do
    [ -f "$SHARED/bench/$f" ] || { echo "skip $f: absent" >&2; continue; }
    build/robust-mismatch "$MODEL" "$SHARED/bench/$f" "$BYTES"
done
