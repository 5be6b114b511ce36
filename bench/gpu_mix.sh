#!/bin/bash
# bench/gpu_mix.sh [BENCH_DIR] - a short GPU check of the hybrid coder's paths (encoder and decoder)
# (about 4 minutes on an H200, after `. tools/gpu/sysroot.sh`):
#   1. build/check-cuda (every kernel and whole-model results against the CPU, the hybrid figures included)
#   2. the golden archives (device auto = the GPU); the default --mix full: an archive made with --device cuda equals the --device cpu one and decodes on the CPU
#   3. compression speed --mix none against --mix full on the same bytes (MB megabytes of the bench's text)
#   4. decompression speed of both archives on the GPU, checked against the input
# Output: $OUT/mix.txt.
. "$(dirname "$0")/gpu_report.sh" # set -u, LC_ALL=C, the repository root as the working folder
BENCH=${1:-.device/bench}
report_open build/gpu-mix mix.txt
make -j16 all build/check-cuda >"$R/build.log" 2>&1 || { tail -n 20 "$R/build.log"; say "build: FAIL"; exit 1; }
timeout 150 build/check-cuda >"$R/check-cuda.log" 2>&1
say "## check-cuda: $(tail -n 1 "$R/check-cuda.log")"
grep -E '^FAIL' "$R/check-cuda.log" | head -n 10 | tee -a "$REPORT"
HLZ=build/hlz timeout 120 sh tests/cli/test_golden.sh >"$R/golden.log" 2>&1
say "## golden archives with the GPU: $(grep -c '^ok' "$R/golden.log") ok, $(grep -c '^FAIL' "$R/golden.log") FAIL"
grep '^FAIL' "$R/golden.log" | head -n 5 | tee -a "$REPORT"
cat README.md doc/*.md | head -c 40000 >"$W/docs.txt"
build/hlz -q -f -T "$(nproc)" --device cuda -c "$W/docs.txt" >"$W/g.hlz" && build/hlz -q -f -T "$(nproc)" --device cpu -c "$W/docs.txt" >"$W/c.hlz"
same=DIFFER; cmp -s "$W/g.hlz" "$W/c.hlz" && same=identical
back=FAIL; build/hlz -d -q -T "$(nproc)" --device cpu -c "$W/g.hlz" 2>/dev/null | cmp -s - "$W/docs.txt" && back=ok
say "## --mix full, $(stat -c %s "$W/docs.txt") bytes of docs: cuda and cpu archives $same ($(stat -c %s "$W/g.hlz") bytes); cuda archive decoded on the cpu: $back"
for f in canterbury/alice29.txt canterbury/asyoulik.txt canterbury/cp.html canterbury/fields.c canterbury/grammar.lsp \
    canterbury/lcet10.txt canterbury/plrabn12.txt canterbury/xargs.1 enwik/enwik5 snappy/html snappy/urls.10K; do
    cat "$BENCH/$f"
done >"$W/unit" 2>/dev/null
size=$(( ${MB:-4} * 1048576 ))
: >"$W/corpus"
while [ "$(stat -c %s "$W/corpus")" -lt $size ]; do cat "$W/unit" >>"$W/corpus"; done
truncate -s $size "$W/corpus"
for mix in none full; do
    s=$(date +%s.%N)
    HLZ_CUDA_STATS=1 build/hlz -q -f -T "$(nproc)" --codec llm --mix $mix --device cuda --chunk-size 16K -c "$W/corpus" >"$W/$mix.hlz" 2>"$W/err"
    rc=$?
    e=$(date +%s.%N)
    say "## compress --mix $mix, $size bytes: rc=$rc $(awk "BEGIN{printf \"%.3f s, %.3f MB/s\", $e - $s, $size / 1e6 / ($e - $s)}"), $(stat -c %s "$W/$mix.hlz") bytes"
    sed 's/^/    /' "$W/err" | head -n 3 | tee -a "$REPORT"
done
# Decompression of the same archives on the GPU: the model alone (token searches) against the hybrid
# (guesses up, their frequencies back, a second search of the kept table without them where needed).
for mix in none full; do
    s=$(date +%s.%N)
    HLZ_CUDA_STATS=1 build/hlz -d -q -f -T "$(nproc)" --device cuda -c "$W/$mix.hlz" >"$W/$mix.out" 2>"$W/err"
    rc=$?
    e=$(date +%s.%N)
    same=DIFFER; cmp -s "$W/$mix.out" "$W/corpus" && same=identical
    say "## decompress --mix $mix: rc=$rc $(awk "BEGIN{printf \"%.3f s, %.3f MB/s\", $e - $s, $size / 1e6 / ($e - $s)}"), output $same"
    sed 's/^/    /' "$W/err" | head -n 3 | tee -a "$REPORT"
done
