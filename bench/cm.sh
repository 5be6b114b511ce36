#!/bin/bash
# bench/cm.sh [OUT_BASE] - the cm codec against the classical peers, in one run.
#
# Every file of ../shared/bench/canterbury and ../shared/bench/snappy through
#   hlz-cm         build/hlz --codec cm --model none -T 1
#   hlz-auto-none  build/hlz --model none -T 1   (the scout without a model: cm or zstd per chunk)
#   hlz-auto       build/hlz -T 1 (default model), binary files only: the model
#                  takes no part there, so this is the scout as users run it;
#                  text files go to the llm codec at a few KB/s (bench/run.sh measures that)
# and xz -9e, zstd -19, brotli -q 11, bzip3, 7z PPMd (order 32, 1 GB) and zpaq -m5,
# all single-threaded. Every decompression is compared with the original (a
# mismatch stops the run). Times are wall-clock medians of REPEATS (default 3)
# runs; the machine is shared, so compare times as ratios to zstd -19's in the
# same run (the report does).
#
# Writes OUT_BASE.csv (file,bytes,compressor,compressed_bytes,bpb,compress_s,
# decompress_s) and OUT_BASE.md (default bench/results/DATE-HOST-cm).
set -u
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
HLZ=${HLZ:-$root/build/hlz}
REPEATS=${REPEATS:-3}
base=${1:-bench/results/$(date -u +%Y-%m-%d)-$(hostname -s)-cm}
bench=${BENCH:-$root/../shared/bench}
[ -d "$bench/canterbury" ] || { echo "cm.sh: no $bench/canterbury: nothing to measure" >&2; exit 0; }
[ -x "$HLZ" ] || { echo "cm.sh: build hlz first (make)" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/hlz-cm-bench.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# run_one NAME COMPRESS DECOMPRESS: commands read $IN and write $OUT / $DEC.
csv=$base.csv
echo "file,bytes,compressor,compressed_bytes,bpb,compress_s,decompress_s" >"$csv"
run_one() {
    local name=$1 comp=$2 decomp=$3 ct=() dt=() i t0
    for i in $(seq "$REPEATS"); do
        rm -f "$OUT" "$DEC"
        t0=$(now)
        (eval "$comp") || { echo "cm.sh: $name failed on $rel" >&2; exit 1; }
        ct+=("$(echo "$(now) - $t0" | bc)")
        t0=$(now)
        (eval "$decomp") || { echo "cm.sh: $name failed to decode $rel" >&2; exit 1; }
        dt+=("$(echo "$(now) - $t0" | bc)")
        cmp -s "$IN" "$DEC" || { echo "cm.sh: $name: $rel does not round-trip" >&2; exit 1; }
    done
    local bytes raw
    bytes=$(stat -c %s "$OUT")
    raw=$(stat -c %s "$IN")
    printf '%s,%s,%s,%s,%.4f,%s,%s\n' "$rel" "$raw" "$name" "$bytes" "$(echo "8 * $bytes / $raw" | bc -l)" \
        "$(printf '%s\n' "${ct[@]}" | median)" "$(printf '%s\n' "${dt[@]}" | median)" >>"$csv"
}

for IN in "$bench"/canterbury/* "$bench"/snappy/*; do
    rel=${IN#"$bench"/}
    base_in=$(basename "$IN")
    OUT=$W/out
    DEC=$W/dec
    echo "cm.sh: $rel" >&2
    run_one hlz-cm '"$HLZ" -q -T 1 --model none --codec cm -c "$IN" >"$OUT"' '"$HLZ" -q -T 1 -dc "$OUT" >"$DEC"'
    run_one hlz-auto-none '"$HLZ" -q -T 1 --model none -c "$IN" >"$OUT"' '"$HLZ" -q -T 1 -dc "$OUT" >"$DEC"'
    case $base_in in kennedy.xls | ptt5 | sum | kppkn.gtb | geo.protodata | fireworks.jpeg | paper-100k.pdf)
        run_one hlz-auto '"$HLZ" -q -T 1 -c "$IN" >"$OUT"' '"$HLZ" -q -T 1 -dc "$OUT" >"$DEC"' ;;
    esac
    run_one xz-9e 'xz -9e -T1 -c "$IN" >"$OUT"' 'xz -dc "$OUT" >"$DEC"'
    run_one zstd-19 'zstd -q -19 -c "$IN" >"$OUT"' 'zstd -q -dc "$OUT" >"$DEC"'
    run_one brotli-11 'brotli -q 11 -c "$IN" >"$OUT"' 'brotli -dc "$OUT" >"$DEC"'
    run_one bzip3 'bzip3 -e -j 1 -c "$IN" >"$OUT"' 'bzip3 -d -j 1 -c "$OUT" >"$DEC"'
    OUT=$W/out.7z
    run_one 7z-ppmd 'rm -f "$OUT"; cd "$(dirname "$IN")" && 7z a -t7z -m0=PPMd:o=32:mem=1g -mmt=1 -bd -bso0 -bsp0 "$OUT" "$base_in"' \
        '7z e -so -bd "$OUT" >"$DEC" 2>/dev/null'
    OUT=$W/out.zpaq
    run_one zpaq-m5 'rm -f "$OUT"; cd "$(dirname "$IN")" && zpaq a "$OUT" "$base_in" -m5 -t1 >/dev/null 2>&1' \
        'rm -rf "$W/x" && mkdir "$W/x" && cd "$W/x" && zpaq x "$OUT" -t1 >/dev/null 2>&1 && mv -- "$W/x/$base_in" "$DEC"'
done

# The report: bytes per compressor, the smallest classical peer, and times as multiples of zstd -19's.
awk -F, -v host="$(hostname -s)" -v date="$(date -u +%Y-%m-%dT%H:%MZ)" -v cpu="$(nproc) CPUs" '
NR == 1 { next }
{
    f = $1; c = $3
    if (!(f in seen)) { seen[f] = 1; order[++nf] = f; raw[f] = $2 }
    if (!(c in cseen)) { cseen[c] = 1; corder[++nc] = c }
    b[f, c] = $4; ct[f, c] = $6; dt[f, c] = $7
}
END {
    printf "# cm codec against the classical peers (%s, %s, %s)\n\n", host, date, cpu
    printf "Bytes (smaller is better); **best classical** = the smallest of the peers; hlz-auto only on binary files.\n\n"
    printf "| file | raw |"
    for (j = 1; j <= nc; j++) printf " %s |", corder[j]
    printf " best classical | hlz-cm vs best |\n|---|---:|"
    for (j = 1; j <= nc; j++) printf "---:|"
    printf "---|---:|\n"
    for (i = 1; i <= nf; i++) {
        f = order[i]; best = ""; bb = 0
        for (j = 1; j <= nc; j++) { c = corder[j]; if (c ~ /^hlz/ || !((f, c) in b)) continue
            if (best == "" || b[f, c] + 0 < bb) { best = c; bb = b[f, c] + 0 } }
        printf "| %s | %d |", f, raw[f]
        for (j = 1; j <= nc; j++) { c = corder[j]; printf " %s |", ((f, c) in b) ? b[f, c] : "-" }
        printf " %s %d | %+.1f%% |\n", best, bb, 100 * (b[f, "hlz-cm"] - bb) / bb
    }
    printf "\nTimes: median wall-clock seconds of the compressions and decompressions, summed over all files,\n"
    printf "and as multiples of zstd -19 in the same run.\n\n| compressor | compress s | x zstd-19 | decompress s | x zstd-19 |\n|---|---:|---:|---:|---:|\n"
    for (j = 1; j <= nc; j++) { c = corder[j]; sc[c] = 0; sd[c] = 0; zc[c] = 0; zd[c] = 0
        for (i = 1; i <= nf; i++) { f = order[i]; if ((f, c) in b) { sc[c] += ct[f, c]; sd[c] += dt[f, c]
            zc[c] += ct[f, "zstd-19"]; zd[c] += dt[f, "zstd-19"] } }
        printf "| %s | %.2f | %.1f | %.2f | %.1f |\n", c, sc[c], sc[c] / zc[c], sd[c], sd[c] / zd[c] }
}' "$csv" >"$base.md"
echo "cm.sh: wrote $csv and $base.md" >&2
