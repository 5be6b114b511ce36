#!/bin/bash
# bench/gpu_throughput.sh [BENCH_DIR] - hlz's end-to-end throughput on a GPU machine.
#
#   1. builds (make all, check-cuda, gpu-bench; bench/gpu_ceiling.cu with nvcc)
#   2. tools/gpu/check.sh: the bit-exactness check, in the same run as the timings
#   3. a text corpus made by concatenating the text files of BENCH_DIR (a copy of
#      ../shared/bench: canterbury, enwik, snappy), repeated to the size asked
#   4. for the default model and a random SmolLM2-135M-shape Q8_0 model: hlz
#      --codec llm --device cuda compression and decompression (reading, coding
#      and writing included), MB/s, with where the time goes (HLZ_CUDA_STATS:
#      the GPU's calls, the host's preparation, kernels, logits copies; CPU
#      time of the coder threads; the corpus read alone); a
#      probe first, then a size chosen to take about SECONDS_PER_RUN (at most
#      MAX_MB), and the round trip checked byte for byte
#   5. (run before 4, so that they survive a run that times out) gpu-bench
#      sweep (tokens/s and GPU memory against batch size) for both models,
#      gpu-bench matmul (the kernels alone, int8 TOPS), gpu-ceiling (int8 and
#      bf16 ceilings: mma.sync loops and cuBLAS when present)
# A random model expands text, so its chunks are stored and its decompression
# measures nothing: its decoding speed is the sweep's "step" rows.
# Environment: SECONDS_PER_RUN (30), PROBE_KB (4096; PROBE_SMOL_KB 512 for the
# SmolLM2 shape), MAX_MB (1024), CHUNK (16K: decoding runs one token per chunk
# per step, so its speed grows with the number of chunks; the ratio barely moves),
# THREADS (nproc), DEVICE (cuda; cpu for a dry run), SKIP_CHECK (0), SMOLLM2 (1),
# LLAMA3 (0; 1 adds the tokens/s of a random Llama-3-8B-shape model, a few minutes).
# Output: $OUT (or build/gpu-throughput)/report.txt.
set -u
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
BENCH=${1:-.device/bench}
R=${OUT:-build/gpu-throughput}
mkdir -p "$R"
W=$(mktemp -d) || exit 2
trap 'rm -rf "$W"' EXIT
SECS=${SECONDS_PER_RUN:-30}
PROBE_KB=${PROBE_KB:-4096}
PROBE_SMOL_KB=${PROBE_SMOL_KB:-512}
DEVICE=${DEVICE:-cuda}
MAX_MB=${MAX_MB:-1024}
CHUNK=${CHUNK:-16K}
THREADS=${THREADS:-$(nproc)}
REPORT=$R/report.txt
say() { echo "$*" | tee -a "$REPORT"; }
: >"$REPORT"

say "# bench/gpu_throughput.sh, $(date -u +%FT%TZ), commit $(cat COMMIT 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo '?')"
say "# GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1)"
say "# CPU: $(nproc) cores; hlz -T $THREADS, chunks of $CHUNK"

echo "== build"
make -j16 all build/check-cuda build/gpu-bench >"$R/build.log" 2>&1 || { tail -n 30 "$R/build.log"; say "build: FAIL"; exit 1; }
cuda_home=$(dirname "$(dirname "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")")
if [ -e "$cuda_home/include/cublas_v2.h" ] && ls "$cuda_home"/lib64/libcublas.so* >/dev/null 2>&1; then
    nvcc -O3 -arch=sm_90 -DHAVE_CUBLAS bench/gpu_ceiling.cu -L"$cuda_home/lib64" -lcublas -Xlinker -rpath="$cuda_home/lib64" \
        -o build/gpu-ceiling >>"$R/build.log" 2>&1
else
    nvcc -O3 -arch=sm_90 bench/gpu_ceiling.cu -o build/gpu-ceiling >>"$R/build.log" 2>&1
fi

echo "== bit-exactness (tools/gpu/check.sh)"
if [ "${SKIP_CHECK:-0}" = 1 ]; then
    echo "check skipped" >"$R/check.log"
else
    OUT="$R/check" bash tools/gpu/check.sh >"$R/check.log" 2>&1
fi
say "## tools/gpu/check.sh: $(tail -n 1 "$R/check.log")"
grep -E '^(ok|FAIL|#)' "$R/check/check-cuda.log" 2>/dev/null | grep -E 'FAIL|tokens/s' | tee -a "$REPORT" >/dev/null

echo "== corpus"
files=""
for f in canterbury/alice29.txt canterbury/asyoulik.txt canterbury/cp.html canterbury/fields.c canterbury/grammar.lsp \
    canterbury/lcet10.txt canterbury/plrabn12.txt canterbury/xargs.1 enwik/enwik5 snappy/html snappy/urls.10K; do
    [ -f "$BENCH/$f" ] && files="$files $BENCH/$f"
done
[ -n "$files" ] || { say "no bench files in $BENCH"; exit 1; }
cat $files >"$W/unit.txt"
unit=$(stat -c %s "$W/unit.txt")
say "# corpus: the text files of $BENCH ($(echo $files | wc -w) files, $unit bytes) concatenated and repeated;"
say "# llm chunks are coded independently (windows of 512 tokens), so repetition does not change the model's work per byte"
make_corpus() { # BYTES -> $W/corpus
    : >"$W/corpus"
    while [ "$(stat -c %s "$W/corpus")" -lt "$1" ]; do cat "$W/unit.txt" >>"$W/corpus"; done
    truncate -s "$1" "$W/corpus"
}

# One timed hlz run: label, then the command. Sets wall, user, sys (the
# command's CPU seconds, all threads) and stats (the HLZ_CUDA_STATS line);
# appends a line to runs.log.
timed() {
    local label=$1 rc
    shift
    local TIMEFORMAT='%R %U %S'
    { time env HLZ_CUDA_STATS=1 timeout $((SECS * 4 + 60)) "$@" 2>"$W/err"; } 2>"$W/time"
    rc=$?
    read -r wall user sys <"$W/time"
    grep -v '^hlz-cuda-stats' "$W/err" | head -n 5 >&2
    stats=$(grep '^hlz-cuda-stats' "$W/err" | sed 's/^hlz-cuda-stats: //')
    echo "$label rc=$rc wall $wall s user $user s sys $sys s | $stats" >>"$R/runs.log"
    return $rc
}

bench_model() { # label model.gguf probe_kb
    local label=$1 model=$2
    say ""
    say "## $label ($model)"
    local kb=$3 size ok=1
    for pass in probe main; do
        size=$((kb * 1024))
        make_corpus $size
        local t0 t1
        t0=$(date +%s.%N)
        cat "$W/corpus" >/dev/null
        t1=$(date +%s.%N)
        local read_s
        read_s=$(awk "BEGIN{printf \"%.3f\", $t1 - $t0}")
        if ! timed "$label $pass compress ${kb}KiB" build/hlz -q -f -T "$THREADS" --codec llm --device "$DEVICE" \
            --chunk-size "$CHUNK" --model "$model" -c "$W/corpus" >"$W/corpus.hlz"; then
            say "$pass: compression of $kb KiB failed or timed out: $(tail -n 1 "$R/runs.log")"
            ok=0
            break
        fi
        local cw=$wall cstats=$stats cu=$user cs=$sys
        if ! timed "$label $pass decompress ${kb}KiB" build/hlz -d -q -T "$THREADS" --device "$DEVICE" --model "$model" \
            -c "$W/corpus.hlz" >"$W/back"; then
            say "$pass: decompression of $kb KiB failed or timed out: $(tail -n 1 "$R/runs.log")"
            ok=0
        fi
        local dw=$wall dstats=$stats du=$user ds=$sys
        local same=yes
        cmp -s "$W/back" "$W/corpus" || same=NO
        local csize
        csize=$(stat -c %s "$W/corpus.hlz")
        say "$pass: $kb KiB -> $csize bytes ($(awk "BEGIN{printf \"%.3f\", $csize * 8 / $size}") bits/byte), round trip identical: $same"
        say "  compress   $(awk "BEGIN{printf \"%.3f\", $size / 1e6 / $cw}") MB/s ($cw s wall, $cu s user, $cs s sys; reading the input alone $read_s s)"
        say "    GPU: $cstats"
        [ $ok = 1 ] && say "  decompress $(awk "BEGIN{printf \"%.3f\", $size / 1e6 / $dw}") MB/s ($dw s wall, $du s user, $ds s sys)"
        [ $ok = 1 ] && say "    GPU: $dstats"
        [ $ok = 1 ] || break
        # The main size: about SECS seconds for the slower direction.
        local slow
        slow=$(awk "BEGIN{print ($cw > $dw) ? $cw : $dw}")
        kb=$(awk "BEGIN{m = int($kb * $SECS / $slow); if (m < 64) m = 64; if (m > $MAX_MB * 1024) m = $MAX_MB * 1024; print m}")
        [ "$pass" = probe ] && say "  (main run: $kb KiB, chosen to take about $SECS s)"
    done
}

echo "== sweeps"
say ""
say "## tokens/s and GPU memory against batch size (gpu-bench sweep; memory = GPU memory in use beyond the model)"
build/gpu-bench sweep models/default/default.gguf 2>&1 | tee -a "$REPORT" >/dev/null
[ "${SMOLLM2:-1}" = 1 ] && build/gpu-bench model "$W/smollm2.gguf" smollm2 &&
    build/gpu-bench sweep "$W/smollm2.gguf" 2>&1 | tee -a "$REPORT" >/dev/null
if [ "${LLAMA3:-0}" = 1 ]; then
    say ""
    say "## random Llama-3-8B shape, Q8_0: tokens/s (prefill = the encoder's rate, step = the decoder's per batch)"
    build/gpu-bench model "$W/llama3.gguf" llama3-8b && build/gpu-bench sweep "$W/llama3.gguf" quick 2>&1 | tee -a "$REPORT" >/dev/null
    rm -f "$W/llama3.gguf"
fi
say ""
say "## the matrix-product kernels alone (gpu-bench matmul)"
build/gpu-bench matmul 2>&1 | tee -a "$REPORT" >/dev/null
say ""
say "## the GPU's ceilings (gpu-ceiling)"
build/gpu-ceiling 2>&1 | tee -a "$REPORT" >/dev/null

bench_model "default model" models/default/default.gguf "$PROBE_KB"
[ -f "$W/smollm2.gguf" ] && bench_model "random SmolLM2-135M shape, Q8_0" "$W/smollm2.gguf" "$PROBE_SMOL_KB"

say ""
say "## runs"
cat "$R/runs.log" >>"$REPORT"
echo "== done: $REPORT"
