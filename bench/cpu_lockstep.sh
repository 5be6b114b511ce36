#!/bin/bash
# bench/cpu_lockstep.sh [BENCH_DIR] - CPU decoding in lockstep against chunk by chunk.
# Compresses KB kilobytes (default 32) of the bench's text (bench/gpu_report.sh's
# make_corpus) with the default model, --codec llm, for each chunk size in CHUNKS
# ("2K 4K 16K": 16, 8 and 2 chunks of 32 KiB), then decodes it REPEATS times (3)
# with -T THREADS (2) both ways: the default (lockstep from 4 model-coded chunks
# per thread, doc/engine.md) and HLZ_LOCKSTEP=0 (chunk by chunk), alternating;
# prints the median seconds of each and checks every output byte for byte.
# Output: $OUT (or build/cpu-lockstep)/lockstep.txt.
. "$(dirname "$0")/gpu_report.sh" # set -u, LC_ALL=C, the repository root as the working folder
BENCH=${1:-../shared/bench}
HLZ=${HLZ:-build/hlz}
report_open build/cpu-lockstep lockstep.txt
size=$(( ${KB:-32} * 1024 ))
T=${THREADS:-2}
N=${REPEATS:-3}
make_corpus "$BENCH" $size "$W/text" || exit 2
say "# $(nproc) cores, -T $T, $size bytes, medians of $N"
say "| chunk size | chunks | lockstep (s) | chunk by chunk (s) | ratio |"
say "|---|---:|---:|---:|---:|"
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
for chunk in ${CHUNKS:-2K 4K 16K}; do
    "$HLZ" -q -f -T "$T" --codec llm --chunk-size "$chunk" -c "$W/text" >"$W/a.hlz" || { say "compress: FAIL"; exit 1; }
    chunks=$("$HLZ" -l "$W/a.hlz" | awk '/^ *[0-9]+ /{n++} END {print n + 0}')
    : >"$W/on"
    : >"$W/off"
    for r in $(seq "$N"); do
        for mode in on off; do
            lock=$([ $mode = on ] && echo "" || echo 0)
            s=$(date +%s.%N)
            HLZ_LOCKSTEP=$lock "$HLZ" -q -d -T "$T" -c "$W/a.hlz" >"$W/back" || { say "decode ($mode): FAIL"; exit 1; }
            e=$(date +%s.%N)
            cmp -s "$W/back" "$W/text" || { say "decode ($mode): output DIFFERS"; exit 1; }
            awk "BEGIN{print $e - $s}" >>"$W/$mode"
        done
    done
    on=$(median <"$W/on") off=$(median <"$W/off")
    say "| $chunk | $chunks | $(printf %.2f "$on") | $(printf %.2f "$off") | $(awk "BEGIN{printf \"%.2f\", $off / $on}") |"
done
