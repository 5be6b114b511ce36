#!/bin/sh
# bench/float_bench.sh [THREADS...] - the float codec on real weights (bench/float_bench.c).
#
# Inputs: ../shared/models/stories260K (fp32 llama2.c checkpoint; bf16, fp16 and upcast fp32 derived from it
# in the program; GGUF f32 and Q8_0 derived with build/hlz-convert, labelled as derived) and the project's
# stand-in model (models/stand-in/stand-in.gguf, Q8_0). Each row: float ratio, zstd -19 ratio on the same
# bytes in the same run, the byte-marginal ceiling, compress/decompress GB/s (median of 5, input tiled to
# 64 MiB, 1 MiB chunks). Thread counts: the arguments (default: 1 2); on the GPU machine: 1 2 4 8 16.
# Output: a markdown table on stdout. Build first: make -j2 all build/float_bench
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
b=build
shared=${HLZ_SHARED:-../shared}
m=$shared/models/stories260K
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x $b/float_bench ] || make -s $b/float_bench
inputs="file:models/stand-in/stand-in.gguf"
if [ -f "$m/stories260K.bin" ]; then
    $b/hlz-convert llama2c "$m/stories260K.bin" "$m/tok512.bin" "$tmp/stories260K-f32-derived.gguf" --type f32 >/dev/null
    $b/hlz-convert llama2c "$m/stories260K.bin" "$m/tok512.bin" "$tmp/stories260K-q8_0-derived.gguf" --type q8_0 >/dev/null
    inputs="llama2c:$m/stories260K.bin file:$tmp/stories260K-f32-derived.gguf file:$tmp/stories260K-q8_0-derived.gguf $inputs"
fi
echo "machine: $(uname -m), $(nproc) processors: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
threads=${*:-1 2}
first=1
for t in $threads; do
    if [ $first = 1 ]; then $b/float_bench -T "$t" $inputs; first=0
    else $b/float_bench -T "$t" $inputs | tail -n +3; fi
done
