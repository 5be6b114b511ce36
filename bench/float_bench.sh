#!/bin/sh
# bench/float_bench.sh [--quick] [THREADS...] - the float codec on real weights (bench/float_bench.c).
#
# Inputs, all real trained weights; "derived" marks files made here from them:
#   ../shared/models/stories260K (llama2.c fp32; bf16, fp16 and upcast fp32 derived in the program; GGUF f32,
#     bf16, Q8_0 and Q4_K derived with build/hlz-convert; its rows of 64 and 172 values are not whole 256-value
#     K-quant blocks, so its Q4_K file uses --k-flat: K-quant blocks over flattened tensors, not a runnable model),
#   models/default/default.gguf (the project's trained default model, Q8_0; bf16 and Q4_K derived from it with
#     hlz-convert gguf: the runnable Q4_K_M-style mix, where rows of 384 fall back to Q8_0, and --k-flat),
#   models/stand-in/stand-in.gguf (Q8_0).
# Each row: float ratio, zstd -19 ratio on the same bytes in the same run, the byte-marginal ceiling,
# compress/decompress GB/s (median of 5; wall and process CPU time), and zstd -3 on the same chunks in the
# same repeats (rows after the first thread count skip zstd -19: 0 there). Thread counts: the arguments
# (default: 1 2). --quick: the stories260K arrays and the default
# model's bf16 file only, no zstd -19 at all (for the GPU machine's scaling run). Build first: make -j2 all build/float_bench
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
b=build
shared=${HLZ_SHARED:-../shared}
m=$shared/models/stories260K
quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x $b/float_bench ] || make -s $b/float_bench
conv() { $b/hlz-convert "$@" >/dev/null; }
d=models/default/default.gguf
inputs=""
if [ -f "$m/stories260K.bin" ]; then
    inputs="llama2c:$m/stories260K.bin"
    if [ $quick = 0 ]; then
        for t in f32 bf16 q8_0; do
            conv llama2c "$m/stories260K.bin" "$m/tok512.bin" "$tmp/stories260K-$t-derived.gguf" --type $t
            inputs="$inputs file:$tmp/stories260K-$t-derived.gguf"
        done
        conv llama2c "$m/stories260K.bin" "$m/tok512.bin" "$tmp/stories260K-q4_k-flat-derived.gguf" --type q4_k --k-flat
        inputs="$inputs file:$tmp/stories260K-q4_k-flat-derived.gguf"
    fi
fi
if [ -f $d ]; then
    conv gguf $d "$tmp/default-bf16-derived.gguf" --type bf16
    if [ $quick = 0 ]; then
        conv gguf $d "$tmp/default-q4_k-derived.gguf" --type q4_k
        conv gguf $d "$tmp/default-q4_k-flat-derived.gguf" --type q4_k --k-flat
        inputs="$inputs file:$d file:$tmp/default-bf16-derived.gguf file:$tmp/default-q4_k-derived.gguf"
        inputs="$inputs file:$tmp/default-q4_k-flat-derived.gguf file:models/stand-in/stand-in.gguf"
    else
        inputs="$inputs file:$tmp/default-bf16-derived.gguf"
    fi
fi
echo "machine: $(uname -m), $(nproc) processors: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
threads=${*:-1 2}
first=1
z=""
[ $quick = 1 ] && z=-z
for t in $threads; do
    if [ $first = 1 ]; then $b/float_bench -T "$t" $z $inputs; first=0
    else $b/float_bench -T "$t" -z $inputs | tail -n +3; fi
done
