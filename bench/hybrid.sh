#!/bin/bash
# bench/hybrid.sh [--device D] [--model M] [--jobs N] DIR OUT - the hybrid
# predictor on whole files, beside the classical peers, in one run.
#
# For every file under DIR (README* and checksum lists left out):
#   1. build/hybrid-bench (text files under 1 MiB only: it keeps every table
#      in memory): bits per byte of the language model alone and with each
#      --mix level added (the gain of each component), and the time the
#      mixing takes against the model's;
#   2. hlz end to end with the default settings (auto codec, --mix full):
#      archive bytes, compression and decompression seconds, and the decoded
#      file compared byte for byte with the original (a mismatch fails the run);
#      and hlz --mix none (compression only) for the same archive without the
#      online models;
#   3. xz -9e, zpaq -m5 and 7z PPMd (order 32, 1 GB) with the same settings as
#      bench/run.sh, from $PEERS (a folder holding usr/bin/xz, usr/bin/zpaq,
#      usr/lib/p7zip/7z, e.g. Debian's packages unpacked with dpkg -x), or
#      from PATH.
# Files run N at a time (default: the number of processors / 2); each hlz
# gets -T 2. Writes OUT.components.tsv, OUT.files.tsv and OUT.md.
set -u
device=auto model=${HLZ_MODEL:-build/default.gguf} jobs=$(( $(nproc) / 2 ))
while [ $# -gt 2 ]; do
    case $1 in
    --device) device=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "bench/hybrid.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ $# = 2 ] || { echo "usage: bench/hybrid.sh [--device D] [--model M] [--jobs N] DIR OUT" >&2; exit 2; }
dir=$1 out=$2
[ "$jobs" -ge 1 ] || jobs=1
root=$(pwd)
peers=${PEERS:-}
xz=xz zpaq=zpaq sevenz=7z
if [ -n "$peers" ]; then
    xz=$peers/usr/bin/xz zpaq=$peers/usr/bin/zpaq sevenz=$peers/usr/lib/p7zip/7z
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/hlz-hybrid.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
# Largest first, so that the long decodes start early.
files=$(cd "$dir" && find . -type f ! -name 'README*' ! -name 'SHA256SUMS' ! -name '.*' -printf '%s %P\n' | sort -rn | cut -d' ' -f2-)

# One file end to end: prints a tab-separated row (see the header below).
one_file() {
    f=$1
    in=$dir/$f t=$work/$(echo "$f" | tr / _)
    bytes=$(wc -c <"$in")
    s0=$(date +%s.%N)
    build/hlz -q -T 2 --device "$device" --model "$model" -c "$in" >"$t.hlz" || { echo "FAIL compress $f" >&2; return 1; }
    s1=$(date +%s.%N)
    build/hlz -d -q -T 2 --device "$device" --model "$model" -c "$t.hlz" >"$t.dec" || { echo "FAIL decompress $f" >&2; return 1; }
    s2=$(date +%s.%N)
    cmp -s "$t.dec" "$in" || { echo "FAIL $f: decoded bytes differ" >&2; return 1; }
    hlz=$(wc -c <"$t.hlz")
    codecs=$(build/hlz -l "$t.hlz" | awk 'NR > 2 && $1 != "all" { print $6 }' | sort | uniq -c | awk '{ printf "%s%s x%d", n++ ? "," : "", $2, $1 }')
    build/hlz -q -T 2 --device "$device" --model "$model" --mix none -c "$in" >"$t.none.hlz" || return 1
    none=$(wc -c <"$t.none.hlz")
    x=$("$xz" -9e -c "$in" | wc -c)
    rm -f "$t.zpaq" && (cd "$(dirname "$in")" && "$zpaq" a "$t.zpaq" "$(basename "$in")" -m5 -t1 >/dev/null 2>&1)
    z=$(wc -c <"$t.zpaq" 2>/dev/null || echo 0)
    rm -f "$t.7z" && (cd "$(dirname "$in")" && "$sevenz" a -t7z -m0=PPMd:o=32:mem=1g -mmt=1 -bd -bso0 -bsp0 "$t.7z" "$(basename "$in")" >/dev/null 2>&1)
    p=$(wc -c <"$t.7z" 2>/dev/null || echo 0)
    printf '%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%s\t%s\t%s\n' "$f" "$bytes" "$hlz" "$none" "$codecs" \
        "$(echo "$s1 - $s0" | awk '{ print $1 - $3 }')" "$(echo "$s2 - $s1" | awk '{ print $1 - $3 }')" "$x" "$z" "$p"
}
export -f one_file
export dir work device model xz zpaq sevenz

set -o pipefail
{
    printf 'file\tbytes\thlz\thlz_mix_none\tcodecs\tcompress_s\tdecompress_s\txz_9e\tzpaq_m5\t7z_ppmd\n'
    echo "$files" | xargs -P "$jobs" -I{} bash -c 'one_file "$1"' _ {}
} >"$out.files.tsv" || { echo "bench/hybrid.sh: a file failed (see above)" >&2; exit 1; }

# The gain of each component, one file at a time (the tables of a file take n_tokens * n_vocab * 4 bytes).
{
    printf 'file\tbytes\ttokens\tmix\tbits_per_byte\tgain_vs_none\tmodel_float_bpb\tmodel_s\tmix_s\n'
    for f in $files; do
        size=$(wc -c <"$dir/$f")
        [ "$size" -lt 1048576 ] || continue
        # Text only: what the scout would send to the model.
        case $f in *.xls | *ptt5 | */sum | *.jpeg | *.pdf | *geo.protodata | *kppkn.gtb) continue ;; esac
        build/hybrid-bench "$model" "$dir/$f" 0 "$device" 2 | tail -n +2
    done
} >"$out.components.tsv"

awk -F'\t' 'NR == 1 { next }
    function bpb(b, n) { return b > 0 ? sprintf("%.3f", 8 * b / n) : "-" }
    { best = $8; if ($9 > 0 && $9 < best) best = $9; if ($10 > 0 && $10 < best) best = $10
      mark = $3 < best ? "**" : ""
      rows = rows sprintf("| %s | %d | %s%s%s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, mark, bpb($3, $2), mark,
                          bpb($4, $2), bpb($8, $2), bpb($9, $2), bpb($10, $2), $5, $6, $7) }
    END { print "| file | bytes | hlz (mix full) | hlz --mix none | xz -9e | zpaq -m5 | 7z PPMd | chunks | compress s | decompress s |"
          print "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"
          printf "%s", rows }' "$out.files.tsv" >"$out.md"
{
    echo
    echo "Bits per byte of whole files (archive bytes, all records included); **bold**: smaller than every peer."
    echo
    echo "| file | tokens | model alone | + match | + context | + SSE (full) | full vs alone | model s | mixing s (4 levels) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' 'NR > 1 { k = $1; tok[k] = $3; v[k, $4] = $5; g[k] = $6; ms[k] = $8; mx[k] += $9; if (!(k in seen)) { seen[k] = 1; order[n++] = k } }
        END { for (i = 0; i < n; i++) { k = order[i]; sub(".*/bench/", "", k)
              printf "| %s | %d | %.4f | %.4f | %.4f | %.4f | %s | %.1f | %.1f |\n", k, tok[order[i]], v[order[i], "none"], v[order[i], "match"],
                     v[order[i], "context"], v[order[i], "full"], g[order[i]], ms[order[i]], mx[order[i]] } }' "$out.components.tsv"
    echo
    echo "Component rows: code length of the rANS symbols (no container), from one evaluation of the model per file."
} >>"$out.md"
cat "$out.md"
