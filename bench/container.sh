#!/bin/sh
# bench/container.sh [DIR] - what the hlz container costs on top of plain zstd.
#
# For every regular file under DIR (recursively; default ../shared/bench),
# compresses it with
#     build/hlz --codec zstd -T 1          (hlz level 9 = zstd level 19 per chunk)
#     zstd -19 --long=27 --single-thread
# and reports both compressed sizes, the container overhead (hlz - zstd) in
# bytes and as a percentage of the zstd size, and the hlz/zstd ratios of the
# median compress and decompress wall times over 3 repeats. Every repeat's
# decompressed output is compared with the original (cmp); any mismatch or
# failing command stops the run with a non-zero exit status.
#
# Prints a markdown table (with a TOTAL row) and writes the same report to
# bench/out/container-DATE.md. Run from anywhere: sh bench/container.sh [DIR]
# Exits 0 with a message when DIR does not exist.
set -u
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
dir=${1:-../shared/bench}
repeats=3
hlz=$root/build/hlz

if [ ! -d "$dir" ]; then
    echo "container.sh: benchmark directory '$dir' not found -- skipped"
    exit 0
fi
die() {
    echo "container.sh: ERROR: $*" >&2
    exit 1
}
[ -x "$hlz" ] || die "$hlz not found (run make first)"
command -v zstd >/dev/null 2>&1 || die "zstd not found in PATH"
case $(date +%N) in *[!0-9]* | '') die "date +%N is not supported here (GNU date needed)" ;; esac

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# ---- the four measured commands -----------------------------------------------
hlz_c() { "$hlz" --codec zstd -T 1 -q -c -- "$1" >"$tmp/f.hlz"; }
hlz_d() { "$hlz" -d -T 1 -q -c -- "$tmp/f.hlz" >"$tmp/f.hlz.out"; }
zstd_c() { zstd -19 --long=27 --single-thread -q -c -- "$1" >"$tmp/f.zst"; }
zstd_d() { zstd -d --long=27 -q -c -- "$tmp/f.zst" >"$tmp/f.zst.out"; }

# Runs "$@" once and prints its wall time in seconds; dies if it fails.
timed() {
    t0=$(date +%s.%N)
    "$@" || die "command failed: $*"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }'
}
# Median wall time of $repeats runs of "$@"; with CHECK set, compares the
# file CHECK with ORIGINAL after every run.
median_time() {
    : >"$tmp/times"
    i=0
    while [ $i -lt $repeats ]; do
        timed "$@" >>"$tmp/times" || exit 1
        if [ -n "${CHECK:-}" ] && ! cmp -s -- "$ORIGINAL" "$CHECK"; then
            echo "container.sh: ******** ROUND TRIP MISMATCH ********" >&2
            die "$* did not reproduce $ORIGINAL byte for byte"
        fi
        i=$((i + 1))
    done
    sort -g "$tmp/times" | awk -v n=$repeats 'NR == int((n + 1) / 2) { print; exit }'
}
size_of() { wc -c <"$1" | tr -d ' '; }

# ---- header ------------------------------------------------------------------
stamp=$(date +%Y-%m-%d-%H%M%S)
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
report=$tmp/report.md
{
    echo "# hlz container overhead vs zstd ($(date '+%Y-%m-%d %H:%M:%S %Z'))"
    echo
    echo "- machine: $(uname -m), $(nproc) CPUs, ${cpu:-unknown CPU}"
    echo "- zstd: $(zstd --version 2>&1 | head -n 1)"
    echo "- hlz: $("$hlz" --version 2>&1 | head -n 1) ($hlz)"
    echo "- hlz: \`hlz --codec zstd -T 1\` (level 9 = zstd 19 per chunk); zstd: \`zstd -19 --long=27 --single-thread\`"
    echo "- files: every regular file under \`$dir\`; times: median wall time of $repeats runs, each round trip checked with cmp"
    echo "- overhead = hlz bytes - zstd bytes (% of zstd bytes); time ratios are hlz/zstd (above 1: hlz slower)"
    echo
    echo "| file | bytes | zstd bytes | hlz bytes | overhead bytes | overhead % | compress time hlz/zstd | decompress time hlz/zstd |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
} >"$report"

# ---- measure -------------------------------------------------------------------
find "$dir" -type f | sort >"$tmp/files"
[ -s "$tmp/files" ] || die "no files under $dir"
: >"$tmp/rows"
count=0
while IFS= read -r file; do
    name=${file#"$dir"/}
    ORIGINAL=$file
    CHECK=''
    hc=$(median_time hlz_c "$file") || exit 1
    CHECK=$tmp/f.hlz.out
    hd=$(median_time hlz_d) || exit 1
    CHECK=''
    zc=$(median_time zstd_c "$file") || exit 1
    CHECK=$tmp/f.zst.out
    zd=$(median_time zstd_d) || exit 1
    raw=$(size_of "$file")
    hb=$(size_of "$tmp/f.hlz")
    zb=$(size_of "$tmp/f.zst")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$raw" "$zb" "$hb" "$hc" "$hd" "$zc" "$zd" >>"$tmp/rows"
    count=$((count + 1))
    printf 'container.sh: %d/%d %s\n' "$count" "$(wc -l <"$tmp/files" | tr -d ' ')" "$name" >&2
done <"$tmp/files"

awk -F '\t' '
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
function pct(o, z) { return z > 0 ? sprintf("%+.2f%%", 100 * o / z) : "n/a" }
{
    over = $4 - $3
    printf "| %s | %d | %d | %d | %+d | %s | %s | %s |\n", $1, $2, $3, $4, over, pct(over, $3), ratio($5, $7), ratio($6, $8)
    raw += $2; zb += $3; hb += $4; hc += $5; hd += $6; zc += $7; zd += $8
}
END {
    printf "| **TOTAL** (%d files) | %d | %d | %d | %+d | %s | %s | %s |\n", NR, raw, zb, hb, hb - zb, pct(hb - zb, zb), ratio(hc, zc), ratio(hd, zd)
    printf "\nTOTAL time ratios are of summed medians: compress %.3f s hlz vs %.3f s zstd, decompress %.3f s vs %.3f s.\n", hc, zc, hd, zd
    printf "bits per byte over all files: zstd %.3f, hlz %.3f.\n", raw ? 8 * zb / raw : 0, raw ? 8 * hb / raw : 0
}' "$tmp/rows" >>"$report"

mkdir -p bench/out || die "cannot create bench/out"
out=bench/out/container-$stamp.md
cp "$report" "$out" || die "cannot write $out"
cat "$report"
echo
echo "written to $out"
