#!/bin/sh
# bench/robust.sh - the robust codec's cost against llm on the English texts of
# ../shared/bench (the first BYTES of each, default 20000: the stand-in model
# codes about 5 KB/s on one core), for C in {1.01, 1.1, 1.5, 2, 10/3}, then a
# sweep of the bucket ratio at C = 2 and 10/3 on alice29.txt. Tab-separated
# rows from build/robust-bench; see doc/robust.md for the results.
set -eu
BYTES=${1:-20000}
MODEL=${HLZ_MODEL:-models/stand-in/stand-in.gguf}
SHARED=${HLZ_SHARED_DIR:-../shared}
make -s build/robust-bench
for f in canterbury/alice29.txt canterbury/asyoulik.txt canterbury/lcet10.txt canterbury/plrabn12.txt enwik/enwik5; do
    [ -f "$SHARED/bench/$f" ] || { echo "skip $f: absent" >&2; continue; }
    build/robust-bench "$MODEL" "$SHARED/bench/$f" "$BYTES"
done
build/robust-bench "$MODEL" "$SHARED/bench/canterbury/alice29.txt" "$BYTES" 2,3.3333 2,4,6,8,10.85,16,32 33 | grep robust
build/robust-bench "$MODEL" "$SHARED/bench/canterbury/alice29.txt" "$BYTES" 2,3.3333 2,4,8 64 | grep robust
