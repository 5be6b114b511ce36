#!/bin/sh
# tools/demo.sh HLZ - the main job on a sample: compress, decompress, compare, print sizes.
# The sample is ../shared/bench/canterbury/alice29.txt when present, else this
# project's own documentation (always present in a checkout).
set -eu
hlz=${1:-build/hlz}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sample=../shared/bench/canterbury/alice29.txt
[ -f "$sample" ] || sample=doc/format.md
cp "$sample" "$dir/sample"
"$hlz" -q "$dir/sample"
mv "$dir/sample" "$dir/original"
"$hlz" -d -q "$dir/sample.hlz"
cmp "$dir/original" "$dir/sample"
"$hlz" -l "$dir/sample.hlz"
raw=$(wc -c <"$dir/original")
packed=$(wc -c <"$dir/sample.hlz")
echo "demo: $sample: $raw bytes -> $packed bytes ($(awk "BEGIN{printf \"%.3f\", 8*$packed/$raw}") bits per byte); decompressed copy is identical"
