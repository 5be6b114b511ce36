#!/bin/sh
# tools/robust/mismatch.sh - the real mismatch experiment (robust_mismatch.c)
# on the English texts of ../shared/bench: the first BYTES of each (0, the
# default: whole files), encoded by the integer engine, decoded with float32
# probabilities. FILES (default: all five) picks some, HLZ_MODEL the model: the
# experiment runs at about 600 tokens/s on one core with the stand-in (whole
# files: about 12 CPU minutes), about 100 with the default model (alice29
# whole: 7 CPU minutes).
set -eu
BYTES=${1:-0}
MODEL=${HLZ_MODEL:-models/stand-in/stand-in.gguf}
SHARED=${HLZ_SHARED_DIR:-../shared}
FILES=${FILES:-canterbury/alice29.txt canterbury/asyoulik.txt canterbury/lcet10.txt canterbury/plrabn12.txt enwik/enwik5}
make -s build/robust-mismatch
for f in $FILES; do
    [ -f "$SHARED/bench/$f" ] || { echo "skip $f: absent" >&2; continue; }
    build/robust-mismatch "$MODEL" "$SHARED/bench/$f" "$BYTES"
done
