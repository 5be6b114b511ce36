#!/bin/bash
# tools/gpu/check.sh - everything the CUDA backend must hold, on a GPU machine,
# in one run (about 2-4 minutes on an H200):
#   1. make -j16 (the CUDA backend is built where nvcc exists)
#   2. build/check-cuda: every kernel against its CPU reference bit for bit,
#      then whole-model logits GPU vs CPU (stand-in, random llama and qwen2,
#      batch sizes 512, 64, 7, 2, 1, several sequences per batch)
#   3. hlz -v --device cuda names the GPU
#   4. the golden archives (tests/cli/test_golden.sh) with the GPU picked by auto
#   5. round trips: compress --device cuda and --device cpu (archives must be
#      identical), decompress each archive on the other device; the same with
#      --attention int8
# Logs go to $OUT (or build/gpu-check); the last line is the summary:
# "gpu-check: PASS" or "gpu-check: FAIL: <what>".
set -u
export LC_ALL=C
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
LOG=${OUT:-build/gpu-check}
mkdir -p "$LOG"
failed=''
fail() { failed="$failed $1"; echo "FAIL: $1"; }
HLZ=build/hlz

echo "== $(date -u +%FT%TZ) commit $(cat COMMIT 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$LOG/gpu.txt"

echo "== build"
if ! make -j16 all build/check-cuda >"$LOG/build.log" 2>&1; then
    tail -n 30 "$LOG/build.log"
    echo "gpu-check: FAIL: build"
    exit 1
fi
if ! ldd "$HLZ" | grep -q cudart; then
    fail "hlz-built-without-cuda(no-nvcc?)"
fi

echo "== kernels and model logits (build/check-cuda)"
timeout 420 build/check-cuda >"$LOG/check-cuda.log" 2>&1
rc=$?
grep -v "^ok " "$LOG/check-cuda.log" | head -n 80
grep -c '^ok ' "$LOG/check-cuda.log" | sed 's/^/ok cases: /'
tail -n 1 "$LOG/check-cuda.log" | grep -q 'check-cuda: PASS' || fail "check-cuda(rc=$rc)"

echo "== device report"
echo hello >"$LOG/hello.txt"
"$HLZ" -v -f --device cuda "$LOG/hello.txt" -o "$LOG/hello.hlz" 2>&1 | tee "$LOG/device.txt"
grep -q 'device cuda: ' "$LOG/device.txt" && ! grep -q 'device cuda: cpu' "$LOG/device.txt" || fail "device-report"
rm -f "$LOG/hello.txt" "$LOG/hello.hlz"

echo "== golden archives (device auto = GPU)"
HLZ=$HLZ sh tests/cli/test_golden.sh >"$LOG/golden.log" 2>&1
cat "$LOG/golden.log"
grep -q '^FAIL' "$LOG/golden.log" && fail golden
grep -q '^ok' "$LOG/golden.log" || fail "golden(no-output)"

echo "== round trips cpu <-> cuda"
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
cat README.md doc/format.md doc/engine.md >"$T/docs.txt"
head -c 12000 src/forward.c >"$T/code.txt"
inputs="tests/golden/prose.txt tests/golden/mixed.txt tests/golden/prose-crlf.txt $T/docs.txt $T/code.txt"
for f in $inputs; do
    b=$(basename "$f")
    for codec in llm auto; do
        for dev in cuda cpu; do
            s=$(date +%s.%N)
            "$HLZ" -q -f -T 16 --codec $codec --device $dev -c "$f" >"$T/$b.$codec.$dev.hlz" 2>>"$LOG/roundtrip.log" ||
                fail "compress-$b-$codec-$dev"
            e=$(date +%s.%N)
            echo "$b $codec $dev compress $(stat -c %s "$f") -> $(stat -c %s "$T/$b.$codec.$dev.hlz") bytes in $(awk "BEGIN{printf \"%.2f\", $e - $s}") s" |
                tee -a "$LOG/roundtrip.log"
        done
        cmp -s "$T/$b.$codec.cuda.hlz" "$T/$b.$codec.cpu.hlz" || fail "archive-bytes-differ-$b-$codec"
        "$HLZ" -d -q -T 16 --device cpu -c "$T/$b.$codec.cuda.hlz" >"$T/out1" 2>>"$LOG/roundtrip.log" &&
            cmp -s "$T/out1" "$f" || fail "cuda-encode-cpu-decode-$b-$codec"
        "$HLZ" -d -q -T 16 --device cuda -c "$T/$b.$codec.cpu.hlz" >"$T/out2" 2>>"$LOG/roundtrip.log" &&
            cmp -s "$T/out2" "$f" || fail "cpu-encode-cuda-decode-$b-$codec"
    done
done

# Integer attention (--attention int8) with the default model: the same archives from both devices.
echo "== round trips cpu <-> cuda, int8 attention"
for f in tests/golden/prose.txt tests/golden/mixed.txt; do
    b=$(basename "$f")
    for dev in cuda cpu; do
        "$HLZ" -q -f -T 16 --codec llm --attention int8 --device $dev -c "$f" >"$T/$b.int8.$dev.hlz" \
            2>>"$LOG/roundtrip.log" || fail "compress-$b-int8-$dev"
        echo "$b int8 $dev compress $(stat -c %s "$f") -> $(stat -c %s "$T/$b.int8.$dev.hlz") bytes" | tee -a "$LOG/roundtrip.log"
    done
    cmp -s "$T/$b.int8.cuda.hlz" "$T/$b.int8.cpu.hlz" || fail "archive-bytes-differ-$b-int8"
    "$HLZ" -d -q -T 16 --device cpu -c "$T/$b.int8.cuda.hlz" 2>>"$LOG/roundtrip.log" | cmp -s - "$f" ||
        fail "cuda-encode-cpu-decode-$b-int8"
    "$HLZ" -d -q -T 16 --device cuda -c "$T/$b.int8.cpu.hlz" 2>>"$LOG/roundtrip.log" | cmp -s - "$f" ||
        fail "cpu-encode-cuda-decode-$b-int8"
done

echo "== summary"
if [ -z "$failed" ]; then
    echo "gpu-check: PASS" | tee "$LOG/summary.txt"
else
    echo "gpu-check: FAIL:$failed" | tee "$LOG/summary.txt"
    exit 1
fi
