#!/bin/bash
# bench/run.sh [OPTIONS] [DIR] - hlz against the standard compressors.
#
# For every benchmark file under DIR (default ../shared/bench; README*,
# checksum lists and dot files are left out) it runs, one process at a time:
#   hlz-zstd   build/hlz --codec zstd -T 1
#   hlz-cm     build/hlz --codec cm -T 1     (context mixing, no model)
#   hlz-auto   build/hlz -T 1            (the scout picks; llm only with a model)
#   hlz-llm    build/hlz --codec llm -T 1  (text files only, when a model exists)
#   and the peers from Debian's packages (installed by package name if missing):
#   gzip -9, bzip2 -9, xz -9e, zstd -19 --long=27, zstd --ultra -22 --long=27,
#   brotli -q 11, bzip3, 7z PPMd (order 32, 1 GB), zpaq -m5 - all single-threaded.
# Every decompression of every repeat is compared byte for byte with the
# original; a mismatch or a failing command stops the run with exit status 1
# and keeps the evidence in bench/out/. Times are medians of --repeats runs.
#
# Writes bench/results/DATE-HOST[-quick][-only][-TAG].{csv,md,png} (see
# bench/README.md for the CSV columns); the markdown and the plot come from
# bench/report.sh, which can also combine several CSVs (CPU and GPU runs).
#
# Options:
#   --model FILE     model for hlz (passed as --model; default: what hlz finds:
#                    $HLZ_MODEL, default.gguf beside the hlz binary, or the installed one)
#   --repeats N      runs per measurement, the median is kept (default 3)
#   --llm-repeats N  repeats for the runs that use the model (default 1: they are slow)
#   --only REGEX     only files whose path under DIR matches REGEX (grep -E)
#   --quick          skip zpaq -m5 and zstd --ultra -22, 7z PPMd on files over 256 KiB
#                    and the runs that use the model on files over 64 KiB
#   --timeout SEC    limit for one compression or decompression (default 60, so that
#                    a full run stays near 20 minutes on 2 cores while the llm codec
#                    runs at a few KB/s); a run that hits it is recorded as "timeout",
#                    never as a result. --timeout 86400 lets every llm run finish.
#   --hlz PATH       the hlz binary (default build/hlz)
#   --threads N      hlz -T (default 1, like the single-threaded peers)
#   --device NAME    pass --device NAME to hlz (the GPU script uses it)
#   --no-peers       measure hlz only
#   --no-install     never install missing peers (they are skipped with a note)
#   --tag TAG        append -TAG to the output names
#   --out BASE       output path without extension (default bench/results/DATE-HOST...)
#   -h, --help       this text
set -u
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
me=run.sh

usage() { sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() {
    echo "$me: ERROR: $*" >&2
    exit 1
}
say() { echo "$me: $*" >&2; }

dir=../shared/bench
model=''
repeats=3
llm_repeats=1
only=''
quick=0
timeout_s=60
hlz=build/hlz
threads=1
device=''
peers=1
install=1
tag=''
out=''
while [ $# -gt 0 ]; do
    case $1 in
    --model) model=${2:?--model needs a file}; shift ;;
    --model=*) model=${1#*=} ;;
    --repeats) repeats=${2:?}; shift ;;
    --repeats=*) repeats=${1#*=} ;;
    --llm-repeats) llm_repeats=${2:?}; shift ;;
    --llm-repeats=*) llm_repeats=${1#*=} ;;
    --only) only=${2:?}; shift ;;
    --only=*) only=${1#*=} ;;
    --quick) quick=1 ;;
    --timeout) timeout_s=${2:?}; shift ;;
    --timeout=*) timeout_s=${1#*=} ;;
    --hlz) hlz=${2:?}; shift ;;
    --hlz=*) hlz=${1#*=} ;;
    --threads) threads=${2:?}; shift ;;
    --threads=*) threads=${1#*=} ;;
    --device) device=${2:?}; shift ;;
    --device=*) device=${1#*=} ;;
    --no-peers) peers=0 ;;
    --no-install) install=0 ;;
    --tag) tag=${2:?}; shift ;;
    --tag=*) tag=${1#*=} ;;
    --out) out=${2:?}; shift ;;
    --out=*) out=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see $0 --help)" ;;
    *) dir=$1 ;;
    esac
    shift
done
for v in repeats llm_repeats timeout_s threads; do
    case ${!v} in '' | *[!0-9]*) die "--${v//_/-} needs a number, not '${!v}'" ;; esac
done
[ "$repeats" -ge 1 ] && [ "$llm_repeats" -ge 1 ] || die "repeats must be at least 1"
[ "$timeout_s" -ge 1 ] || die "--timeout must be at least 1 second"

if [ ! -d "$dir" ]; then
    echo "$me: benchmark directory '$dir' not found -- skipped"
    exit 0
fi
dir=$(cd "$dir" && pwd)
case $hlz in /*) ;; *) hlz=$root/$hlz ;; esac
[ -x "$hlz" ] || die "$hlz not found (run make first)"
case $(date +%N) in *[!0-9]* | '') die "date +%N is not supported here (GNU date needed)" ;; esac
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) not found"
if [ -n "$model" ]; then
    [ -r "$model" ] || die "model '$model' not readable"
    model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
fi

work=$(mktemp -d) || exit 2
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
notes=$work/notes # one markdown line per note for the report
: >"$notes"
note() {
    say "$*"
    echo "$*" >>"$notes"
}

# ---- machine -----------------------------------------------------------------
host=$(hostname -s 2>/dev/null || hostname 2>/dev/null || echo unknown)
host=${host//[^A-Za-z0-9._-]/_}
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
hardware="$(nproc) CPUs ${cpu:-unknown CPU}"
devcol=cpu
if [ -n "$device" ]; then
    devcol=$device
    case $device in cuda*)
        gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
        hardware="${gpu:-unknown GPU}; $hardware" ;;
    esac
fi
clean() { printf '%s' "$*" | tr ',\n\r\t"' ';   '"'"; } # a CSV field without commas or quotes
hardware=$(clean "$hardware")

# ---- hlz ---------------------------------------------------------------------
hlz_help=$("$hlz" -h 2>&1)
hlz_version=$(clean "$("$hlz" -V 2>&1 | head -n 1)")
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
hlz_version="$hlz_version ($rev)"
dev_args=''
if [ -n "$device" ]; then
    printf '%s' "$hlz_help" | grep -q -- '--device' || die "$hlz has no --device option"
    dev_args=" --device $(printf %q "$device")"
fi
# The model hlz will use: --model, else what hlz itself finds (programs/hlz.c).
model_path=$model
if [ -z "$model_path" ]; then
    if [ -n "${HLZ_MODEL:-}" ]; then
        model_path=$HLZ_MODEL
    elif [ -r "$(dirname "$hlz")/default.gguf" ]; then
        model_path=$(dirname "$hlz")/default.gguf
    elif [ -r /usr/local/share/hlz/default.gguf ]; then
        model_path=/usr/local/share/hlz/default.gguf
    fi
fi
model_args=''
model_name=''
if [ -n "$model_path" ]; then
    model_args=" --model $(printf %q "$model_path")"
    model_name=$(clean "$(basename "$model_path")")
fi
has_llm=0
printf '%s' "$hlz_help" | grep -q -- '--codec.*llm' && has_llm=1
HLZ="$(printf %q "$hlz") -q -T $threads$dev_args$model_args"

# ---- compressors -------------------------------------------------------------
# Each compressor: name, threads, Debian package, binary, version command, the
# command shown in the tables, and compress/decompress commands for bash -c
# with $IN (the original), $INDIR, $INBASE, $OUT (the compressed file), $DEC
# (the decompressed file) and $X (a scratch directory).
names=()
declare -A C_THREADS C_PKG C_BIN C_VER C_SHOW C_COMP C_DECOMP C_EXT C_KIND
add() { # name threads package binary ext kind(all|text) show version-cmd comp decomp
    names+=("$1")
    C_THREADS[$1]=$2 C_PKG[$1]=$3 C_BIN[$1]=$4 C_EXT[$1]=$5 C_KIND[$1]=$6 C_SHOW[$1]=$7
    C_VER[$1]=$8 C_COMP[$1]=$9 C_DECOMP[$1]=${10}
}
hlz_d="$HLZ -d -c -- \"\$OUT\" >\"\$DEC\""
add hlz-zstd "$threads" - "$hlz" hlz all "hlz --codec zstd -T $threads$dev_args" : \
    "$HLZ --codec zstd -c -- \"\$IN\" >\"\$OUT\"" "$hlz_d"
add hlz-cm "$threads" - "$hlz" hlz all "hlz --codec cm -T $threads$dev_args" : \
    "$HLZ --codec cm -c -- \"\$IN\" >\"\$OUT\"" "$hlz_d"
add hlz-auto "$threads" - "$hlz" hlz all "hlz -T $threads$dev_args${model_name:+ --model $model_name}" : \
    "$HLZ -c -- \"\$IN\" >\"\$OUT\"" "$hlz_d"
if [ $has_llm = 1 ] && [ -n "$model_path" ]; then
    add hlz-llm "$threads" - "$hlz" hlz text "hlz --codec llm -T $threads$dev_args --model $model_name" : \
        "$HLZ --codec llm -c -- \"\$IN\" >\"\$OUT\"" "$hlz_d"
elif [ $has_llm = 0 ]; then
    note "- hlz-llm not run: this hlz build has no llm codec."
else
    note "- hlz-llm not run: no model (no --model, no \$HLZ_MODEL, no default.gguf beside $(basename "$hlz")); hlz-auto used only the classical codecs."
fi
if [ $peers = 1 ]; then
    add gzip-9 1 gzip gzip gz all "gzip -9 -n" "gzip --version" \
        'gzip -9 -n -c -- "$IN" >"$OUT"' 'gzip -d -c -- "$OUT" >"$DEC"'
    add bzip2-9 1 bzip2 bzip2 bz2 all "bzip2 -9" "bzip2 --version </dev/null 2>&1 | sed -n 's/.*Version \\([^,]*\\).*/bzip2 \\1/p'" \
        'bzip2 -9 -c -- "$IN" >"$OUT"' 'bzip2 -d -c -- "$OUT" >"$DEC"'
    add xz-9e 1 xz-utils xz xz all "xz -9e -T1" "xz --version" \
        'xz -9e -T1 -c -- "$IN" >"$OUT"' 'xz -d -T1 -c -- "$OUT" >"$DEC"'
    add zstd-19-long27 1 zstd zstd zst all "zstd -19 --long=27 --single-thread" "zstd --version | sed 's/.*\\(v[0-9.]*\\).*/zstd \\1/'" \
        'zstd -19 --long=27 --single-thread -q -c -- "$IN" >"$OUT"' 'zstd -d --long=27 -q -c -- "$OUT" >"$DEC"'
    add zstd-22-long27 1 zstd zstd zst all "zstd --ultra -22 --long=27 --single-thread" "zstd --version | sed 's/.*\\(v[0-9.]*\\).*/zstd \\1/'" \
        'zstd --ultra -22 --long=27 --single-thread -q -c -- "$IN" >"$OUT"' 'zstd -d --long=27 -q -c -- "$OUT" >"$DEC"'
    add brotli-11 1 brotli brotli br all "brotli -q 11" "brotli --version" \
        'brotli -q 11 -c -- "$IN" >"$OUT"' 'brotli -d -c -- "$OUT" >"$DEC"'
    add bzip3 1 bzip3 bzip3 bz3 all "bzip3 -j 1" "bzip3 -V" \
        'bzip3 -e -j 1 -c "$IN" >"$OUT"' 'bzip3 -d -j 1 -c "$OUT" >"$DEC"'
    # 7z stores the name: add the file from its own directory. 7-Zip lowers the
    # PPMd memory to what a small file needs; the archive header says so.
    add 7z-ppmd 1 p7zip-full 7z 7z all "7z a -t7z -m0=PPMd:o=32:mem=1g -mmt=1" "7z i 2>&1 | grep -m1 7-Zip | sed 's/ :.*//'" \
        'rm -f "$OUT" && cd "$INDIR" && 7z a -t7z -m0=PPMd:o=32:mem=1g -mmt=1 -bd -bso0 -bsp0 "$OUT" "$INBASE"' \
        '7z e -so -bd "$OUT" >"$DEC"'
    # zpaq appends to an existing archive and always extracts to the stored path.
    add zpaq-m5 1 zpaq zpaq zpaq all "zpaq a -m5 -t1" "zpaq 2>&1 | head -n 1 | sed 's/,.*//'" \
        'rm -f "$OUT" && cd "$INDIR" && zpaq a "$OUT" "$INBASE" -m5 -t1 >/dev/null' \
        'rm -rf "$X" && mkdir "$X" && cd "$X" && zpaq x "$OUT" -t1 >/dev/null && mv -- "$X/$INBASE" "$DEC"'
fi

# Installs the Debian package $1 (as root, with apt-get); 1 when that fails.
updated=0
install_pkg() {
    [ $install = 1 ] || { note "- $1 not installed (--no-install): its peers are skipped."; return 1; }
    command -v apt-get >/dev/null 2>&1 || { note "- no apt-get to install $1: its peers are skipped."; return 1; }
    [ "$(id -u)" = 0 ] || { note "- not root, cannot install $1: its peers are skipped."; return 1; }
    if ! apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]' && [ $updated = 0 ]; then
        say "apt-get update"
        apt-get update -qq >"$work/apt.log" 2>&1
        updated=1
    fi
    if ! apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        note "- Debian package $1 is not in this system's package lists ($(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown OS}")): its peers are skipped."
        return 1
    fi
    say "installing $1 (apt-get install $1)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >"$work/apt.log" 2>&1; then
        tail -n 5 "$work/apt.log" >&2
        note "- apt-get install $1 failed: its peers are skipped."
        return 1
    fi
}
active=()
declare -A C_VERSION
for n in "${names[@]}"; do
    if ! command -v "${C_BIN[$n]}" >/dev/null 2>&1; then
        if [ "${C_PKG[$n]}" = - ] || ! install_pkg "${C_PKG[$n]}" || ! command -v "${C_BIN[$n]}" >/dev/null 2>&1; then
            say "skipping $n (no ${C_BIN[$n]})"
            continue
        fi
    fi
    if [ $quick = 1 ]; then
        case $n in zpaq-m5 | zstd-22-long27)
            note "- $n not run (--quick)."
            continue ;;
        7z-ppmd) note "- 7z-ppmd not run on files over 256 KiB (--quick)." ;;
        hlz-llm) note "- hlz-llm not run on files over 64 KiB (--quick)." ;;
        hlz-auto) [ -n "$model_path" ] && note "- hlz-auto (it uses the model) not run on files over 64 KiB (--quick)." ;;
        esac
    fi
    if [ "${C_VER[$n]}" = : ]; then
        C_VERSION[$n]=$hlz_version
    else
        C_VERSION[$n]=$(clean "$(bash -c "${C_VER[$n]}" 2>&1 | grep -v '^[[:space:]]*$' | head -n 1 | sed 's/[[:space:]]\{1,\}/ /g; s/ *$//' | cut -c1-80)")
    fi
    active+=("$n")
done
[ ${#active[@]} -gt 0 ] || die "nothing to run"

# ---- files -------------------------------------------------------------------
find "$dir" -type f ! -name '.*' ! -name 'README*' ! -name '*SUMS' ! -name '*.sha256' ! -name '*.md5' |
    sed "s|^$dir/||" | sort >"$work/files"
if [ -n "$only" ]; then
    grep -E -- "$only" "$work/files" >"$work/files.only" || die "no file under $dir matches --only '$only'"
    mv "$work/files.only" "$work/files"
fi
[ -s "$work/files" ] || die "no files under $dir"
nfiles=$(wc -l <"$work/files" | tr -d ' ')

# text: at most 1% of the bytes are control characters other than tab, line
# feed, form feed and carriage return (any other byte value counts as text).
kind_of() {
    local size ctl
    size=$(wc -c <"$1" | tr -d ' ')
    ctl=$(tr -d '\011\012\014\015\040-\176\200-\377' <"$1" | wc -c | tr -d ' ')
    if [ "$size" -gt 0 ] && [ $((ctl * 100)) -le "$size" ]; then echo text; else echo binary; fi
}

# ---- measuring ---------------------------------------------------------------
# run_once CMD: runs CMD under the timeout; prints the wall seconds. Status 0
# ok, 124 timeout, anything else a failure (stderr kept in $work/err).
run_once() {
    local t0 t1 rc
    t0=$(date +%s.%N)
    timeout -k 10 "$timeout_s" bash -c "$1" 2>"$work/err" </dev/null
    rc=$?
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }'
    return $rc
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.6f\n", v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
keep_evidence() { # name file: copies the inputs of a failed round trip to bench/out
    local keep
    keep=$root/bench/out/mismatch-$(date +%Y%m%d-%H%M%S)-$1
    mkdir -p "$keep" && cp -p "$OUT" "$keep/" 2>/dev/null
    [ -f "$DEC" ] && cp -p "$DEC" "$keep/decoded" 2>/dev/null
    cp "$work/err" "$keep/stderr.txt" 2>/dev/null
    echo "$keep"
}
fail() { # name file what
    local keep
    echo "$me: ******** $3 ********" >&2
    sed 's/^/    /' "$work/err" | tail -n 20 >&2
    keep=$(keep_evidence "$1")
    die "$1 on $2: $3 (evidence in $keep)"
}

csv=$work/results.csv
echo "file,bytes,compressor,compressed_bytes,bpb,compress_s,decompress_s,threads,repeats,status,kind,machine,device,hardware,model,version,command" >"$csv"
row() { # file bytes name size bpb ct dt reps status kind
    local m=''
    case $3 in hlz-*) m=$model_name ;; esac
    [ "$3" = hlz-zstd ] || [ "$3" = hlz-cm ] && m=''
    printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$(clean "$1")" "$2" "$3" "$4" "$5" "$6" "$7" \
        "${C_THREADS[$3]}" "$8" "$9" "${10}" "$host" "$devcol" "$hardware" "$m" "${C_VERSION[$3]}" "$(clean "${C_SHOW[$3]}")" >>"$csv"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
say "$nfiles files under $dir; ${#active[@]} compressors: ${active[*]}; $repeats repeats; timeout ${timeout_s}s"
start=$(date +%s)
count=0
export IN INDIR INBASE OUT DEC X
while IFS= read -r rel; do
    count=$((count + 1))
    IN=$dir/$rel
    INDIR=$(dirname "$IN")
    INBASE=$(basename "$IN")
    bytes=$(wc -c <"$IN" | tr -d ' ')
    kind=$(kind_of "$IN")
    say "[$count/$nfiles] $rel ($bytes bytes, $kind)"
    for n in "${active[@]}"; do
        [ "${C_KIND[$n]}" = text ] && [ "$kind" != text ] && continue
        [ $quick = 1 ] && [ "$n" = 7z-ppmd ] && [ "$bytes" -gt 262144 ] && continue
        uses_model=0
        case $n in hlz-llm) uses_model=1 ;; hlz-auto) [ -n "$model_path" ] && uses_model=1 ;; esac
        [ $quick = 1 ] && [ $uses_model = 1 ] && [ "$bytes" -gt 65536 ] && continue
        reps=$repeats
        [ $uses_model = 1 ] && reps=$llm_repeats
        OUT=$work/c.${C_EXT[$n]}
        DEC=$work/d
        X=$work/x
        status=ok
        : >"$work/ct"
        i=0
        while [ $i -lt "$reps" ]; do
            rm -f "$DEC"
            t=$(run_once "${C_COMP[$n]}")
            rc=$?
            [ $rc = 124 ] || [ $rc = 137 ] && { status=timeout; break; }
            [ $rc = 0 ] || fail "$n" "$rel" "compression failed (exit status $rc)"
            [ -s "$OUT" ] || fail "$n" "$rel" "compression wrote nothing"
            echo "$t" >>"$work/ct"
            i=$((i + 1))
        done
        if [ $status = timeout ]; then
            note "- $n on $rel: compression timed out (over ${timeout_s}s); recorded as a timeout."
            row "$rel" "$bytes" "$n" '' '' '' '' "$reps" timeout "$kind"
            continue
        fi
        size=$(wc -c <"$OUT" | tr -d ' ')
        : >"$work/dt"
        i=0
        while [ $i -lt "$reps" ]; do
            rm -rf "$DEC" "$X"
            t=$(run_once "${C_DECOMP[$n]}")
            rc=$?
            [ $rc = 124 ] || [ $rc = 137 ] && { status=timeout; break; }
            [ $rc = 0 ] || fail "$n" "$rel" "decompression failed (exit status $rc)"
            cmp -s -- "$IN" "$DEC" || fail "$n" "$rel" "ROUND TRIP MISMATCH: the decompressed file differs from $IN"
            echo "$t" >>"$work/dt"
            i=$((i + 1))
        done
        if [ $status = timeout ]; then
            note "- $n on $rel: decompression timed out (over ${timeout_s}s); recorded as a timeout."
            row "$rel" "$bytes" "$n" '' '' '' '' "$reps" timeout "$kind"
            continue
        fi
        ct=$(median <"$work/ct")
        dt=$(median <"$work/dt")
        bpb=$(awk -v s="$size" -v b="$bytes" 'BEGIN { printf "%.4f", b ? 8 * s / b : 0 }')
        row "$rel" "$bytes" "$n" "$size" "$bpb" "$ct" "$dt" "$reps" ok "$kind"
        printf '%s:   %-15s %9d bytes  %6s bpb  c %8.3fs  d %8.3fs\n' "$me" "$n" "$size" "$bpb" "$ct" "$dt" >&2
    done
done <"$work/files"
elapsed=$(($(date +%s) - start))

# ---- results -------------------------------------------------------------------
if [ -z "$out" ]; then
    out=bench/results/$(date +%Y-%m-%d)-$host
    [ $quick = 1 ] && out=$out-quick
    [ -n "$only" ] && out=$out-only
    [ -n "$tag" ] && out=$out-$tag
fi
mkdir -p "$(dirname "$out")" || die "cannot create $(dirname "$out")"
cp "$csv" "$out.csv" || die "cannot write $out.csv"
{
    echo "- run: \`bench/run.sh$([ $quick = 1 ] && echo ' --quick')$([ -n "$only" ] && echo " --only '$only'")$([ -n "$model" ] && echo " --model $model_name") --repeats $repeats --llm-repeats $llm_repeats --timeout $timeout_s\` on \`$dir\` ($nfiles files), $elapsed s in all"
    echo "- machine: $host, $(uname -m), $hardware; $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown OS}")"
    echo "- load average (1, 5, 15 min) at the start: ${load0:-?}; at the end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) (other work on the machine slows the times)"
    echo "- hlz: $hlz_version${model_path:+, model $model_path}"
    cat "$notes"
} >"$work/meta.md"
bash "$root/bench/report.sh" --meta "$work/meta.md" --out "$out" "$out.csv" || die "report.sh failed"
echo "$me: done in $elapsed s" >&2
