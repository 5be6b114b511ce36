#!/bin/bash
# bench/gpu_host.sh [BENCH_DIR] - where the host's time goes when hlz codes on a GPU.
# On the GPU machine, after `. tools/gpu/sysroot.sh`:
#   1. bench/gpu_api.cu: the host cost of a launch, an event, pinned and pageable
#      uploads (GPU idle and busy) and of CUDA graphs
#   2. gpu-bench sweep quick of the default model with HLZ_CUDA_STATS (one thread:
#      a call's queueing without other threads)
#   3. hlz --codec llm --device cuda compression of MB megabytes (default 8) of the
#      bench's text for each -T in THREADS ("16 4 1") and each chunk size in
#      CHUNKS ("16K 64K"), with HLZ_CUDA_STATS; ATTENTION (float) picks the arithmetic
# Output: $OUT (or build/gpu-host)/host.txt.
. "$(dirname "$0")/gpu_report.sh" # set -u, LC_ALL=C, the repository root as the working folder
BENCH=${1:-.device/bench}
report_open build/gpu-host host.txt
make -j16 all build/gpu-bench >"$R/build.log" 2>&1 || { tail -n 30 "$R/build.log"; say "build: FAIL"; exit 1; }
nvcc -O3 -arch=sm_90 bench/gpu_api.cu -o build/gpu-api >>"$R/build.log" 2>&1 || say "gpu-api: build FAIL"
say "## gpu-api"
timeout 120 build/gpu-api 2>&1 | tee -a "$REPORT"
say "## gpu-bench sweep quick (default model), HLZ_CUDA_STATS=1"
HLZ_CUDA_STATS=1 timeout 120 build/gpu-bench sweep models/default/default.gguf quick 2>&1 | tee -a "$REPORT"
size=$(( ${MB:-8} * 1048576 ))
make_corpus "$BENCH" $size "$W/corpus" || exit 2
for chunk in ${CHUNKS:-16K 64K}; do
    for t in ${THREADS:-16 4 1}; do
        say "## compression: $size bytes, --mix none, --attention ${ATTENTION:-float}, --chunk-size $chunk, -T $t"
        s=$(date +%s.%N)
        HLZ_CUDA_STATS=1 timeout ${LIMIT:-200} build/hlz -q -f -T "$t" --codec llm --mix none \
            --attention "${ATTENTION:-float}" --device cuda --chunk-size "$chunk" -c "$W/corpus" >"$W/c.hlz" 2>"$W/err"
        rc=$?
        e=$(date +%s.%N)
        say "  rc=$rc $(awk "BEGIN{printf \"%.3f s, %.3f MB/s\", $e - $s, $size / 1e6 / ($e - $s)}"), archive $(stat -c %s "$W/c.hlz") bytes"
        sed 's/^/    /' "$W/err" | head -n 6 | tee -a "$REPORT"
    done
done
