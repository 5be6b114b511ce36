#!/bin/sh
# tools/demo.sh HLZ - the main job on a sample: compress, decompress, compare, print sizes.
# The sample is the first 32 KiB of ../shared/bench/canterbury/alice29.txt when
# present, else of this project's own documentation (always in a checkout): the
# default model decodes one token at a time, a few hundred tokens a second on
# a 2-core CPU, so a whole book would take minutes.
set -eu
hlz=${1:-build/hlz}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sample=../shared/bench/canterbury/alice29.txt
[ -f "$sample" ] || sample=doc/format.md
head -c 32768 "$sample" >"$dir/sample"
"$hlz" -q "$dir/sample"
mv "$dir/sample" "$dir/original"
"$hlz" -d -q "$dir/sample.hlz"
cmp "$dir/original" "$dir/sample"
"$hlz" -l "$dir/sample.hlz"
raw=$(wc -c <"$dir/original")
packed=$(wc -c <"$dir/sample.hlz")
echo "demo: $sample (first $raw bytes): $raw bytes -> $packed bytes ($(awk "BEGIN{printf \"%.3f\", 8*$packed/$raw}") bits per byte); decompressed copy is identical"
