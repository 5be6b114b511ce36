#!/bin/sh
# bench/robust.sh - the robust codec's cost against llm on the English texts of
# ../shared/bench (the first BYTES of each; 0, the default, is the whole file),
# for C in {1.01, 1.1, 1.5, 2, 10/3}, then a sweep of the bucket ratio at C = 2
# and 10/3 on alice29.txt. Tab-separated rows from build/robust-bench (each row
# gives the size with every bucket code and the one hlz picks); one model walk
# per file codes every setting, one more gives llm's size: about 5 minutes of
# one core for the whole files with the stand-in model. See doc/robust.md.
set -eu
BYTES=${1:-0}
MODEL=${HLZ_MODEL:-models/stand-in/stand-in.gguf}
SHARED=${HLZ_SHARED_DIR:-../shared}
make -s build/robust-bench
first=1
for f in canterbury/alice29.txt canterbury/asyoulik.txt canterbury/lcet10.txt canterbury/plrabn12.txt enwik/enwik5; do
    [ -f "$SHARED/bench/$f" ] || { echo "skip $f: absent" >&2; continue; }
    if [ $first = 1 ]; then build/robust-bench "$MODEL" "$SHARED/bench/$f" "$BYTES"; first=0
    else build/robust-bench "$MODEL" "$SHARED/bench/$f" "$BYTES" | tail -n +2; fi
done
build/robust-bench "$MODEL" "$SHARED/bench/canterbury/alice29.txt" "$BYTES" 2,3.3333 2,4,6,8,10.85,16,32 33 | grep robust
build/robust-bench "$MODEL" "$SHARED/bench/canterbury/alice29.txt" "$BYTES" 2,3.3333 2,4,8 64 | grep robust
