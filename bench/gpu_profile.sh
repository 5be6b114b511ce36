#!/bin/bash
# bench/gpu_profile.sh [BENCH_DIR] - a short GPU session: correctness first, then
# where the time goes. On the GPU machine, after `. tools/gpu/sysroot.sh`:
#   1. tools/gpu/check.sh (bit-exactness; its summary line is the report's first)
#   2. gpu-bench matmul (every matrix kernel, int8 TOPS), gpu-bench attention
#      (both attention kernels) and gpu-ceiling
#   3. gpu-bench sweep quick of the default model with HLZ_CUDA_PROFILE=1
#   4. hlz --codec llm --device cuda end to end on MB megabytes (default 8) of
#      the bench's text files concatenated, for each --mix in MIXES (default
#      "none"), with HLZ_CUDA_STATS: MB/s both ways, the round trip checked;
#      then again with HLZ_CUDA_PROFILE (the kernels' time by kind; profiling
#      keeps each call under the GPU lock, so its MB/s are lower). PROFILES="0"
#      skips the profiled runs, "1" the plain ones.
#   (SHAPES="smollm2 llama3-8b": sweeps of random models of those shapes after 3.)
# Environment: MB, MIXES, ATTENTIONS (float; "float int8" runs both), PROFILES, CHUNK (16K), SKIP_CHECK, SKIP_MATMUL, SKIP_SWEEP, SHAPES, LIMIT (s per run). Output: $OUT/profile.txt.
. "$(dirname "$0")/gpu_report.sh" # set -u, LC_ALL=C, the repository root as the working folder
BENCH=${1:-.device/bench}
report_open build/gpu-profile profile.txt
make -j16 all build/check-cuda build/gpu-bench >"$R/build.log" 2>&1 || { tail -n 30 "$R/build.log"; say "build: FAIL"; exit 1; }
nvcc -O3 -arch=sm_90 bench/gpu_ceiling.cu -o build/gpu-ceiling >>"$R/build.log" 2>&1
if [ "${SKIP_CHECK:-0}" != 1 ]; then
    OUT="$R/check" timeout 300 bash tools/gpu/check.sh >"$R/check.log" 2>&1
    say "## check: $(tail -n 1 "$R/check.log")"
    grep -E 'FAIL|differ' "$R/check.log" "$R/check/check-cuda.log" 2>/dev/null | head -n 20 | tee -a "$REPORT"
fi
if [ "${SKIP_MATMUL:-0}" != 1 ]; then
    say "## gpu-bench matmul"
    timeout 120 build/gpu-bench matmul 2>&1 | tee -a "$REPORT"
    say "## gpu-bench attention (float warp and tile, int8)"
    timeout 120 build/gpu-bench attention 2>&1 | tee -a "$REPORT"
    say "## gpu-ceiling"
    timeout 60 build/gpu-ceiling 2>&1 | tee -a "$REPORT"
fi
if [ "${SKIP_SWEEP:-0}" != 1 ]; then
    say "## gpu-bench sweep quick (default model), HLZ_CUDA_PROFILE=1"
    HLZ_CUDA_PROFILE=1 timeout 120 build/gpu-bench sweep models/default/default.gguf quick 2>&1 | tee -a "$REPORT"
fi
for shape in ${SHAPES:-}; do # random models of these shapes (gpu-bench model): tokens/s by batch
    say "## gpu-bench sweep quick, random $shape-shape Q8_0 model, HLZ_CUDA_PROFILE=1"
    timeout 200 build/gpu-bench model "$W/$shape.gguf" "$shape" >>"$R/build.log" 2>&1 &&
        HLZ_CUDA_PROFILE=1 timeout 200 build/gpu-bench sweep "$W/$shape.gguf" quick 2>&1 | tee -a "$REPORT"
    rm -f "$W/$shape.gguf"
done
size=$(( ${MB:-8} * 1048576 ))
make_corpus "$BENCH" $size "$W/corpus" || exit 2
for mix in ${MIXES:-none}; do
 for att in ${ATTENTIONS:-float}; do
  for prof in ${PROFILES:-0 1}; do
    say "## end to end: $size bytes, --mix $mix, --attention $att, --chunk-size ${CHUNK:-16K}, -T $(nproc)$([ $prof = 1 ] && echo ', HLZ_CUDA_PROFILE=1')"
    for dir in c d; do
        if [ $dir = c ]; then set -- -c "$W/corpus"; out=$W/corpus.hlz; else set -- -d -c "$W/corpus.hlz"; out=$W/back; fi
        s=$(date +%s.%N)
        HLZ_CUDA_STATS=1 HLZ_CUDA_PROFILE=$prof timeout ${LIMIT:-200} build/hlz -q -f -T "$(nproc)" --codec llm --mix $mix \
            --attention $att --device cuda --chunk-size "${CHUNK:-16K}" "$@" >"$out" 2>"$W/err"
        rc=$?
        e=$(date +%s.%N)
        say "  $dir rc=$rc $(awk "BEGIN{printf \"%.3f s, %.3f MB/s\", $e - $s, $size / 1e6 / ($e - $s)}")"
        sed 's/^/    /' "$W/err" | head -n 6 | tee -a "$REPORT"
        [ $rc = 0 ] || break
    done
    [ -f "$W/corpus.hlz" ] && say "  archive $(stat -c %s "$W/corpus.hlz") bytes ($(awk "BEGIN{printf \"%.3f\", $(stat -c %s "$W/corpus.hlz") * 8 / $size}") bpb); round trip: $(cmp -s "$W/back" "$W/corpus" && echo identical || echo DIFFERS)"
    rm -f "$W/corpus.hlz" "$W/back"
  done
 done
done
