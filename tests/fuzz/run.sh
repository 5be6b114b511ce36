#!/bin/sh
# tests/fuzz/run.sh BUILD_DIR FUZZ_BINARY SECONDS
#
# Builds a seed corpus of small valid archives in build-fuzz/corpus (made with
# BUILD_DIR/hlz from generated inputs, plus any files in tests/fuzz/seeds/),
# then runs the libFuzzer binary FUZZ_BINARY on it for SECONDS seconds.
# Crash, leak, timeout and out-of-memory reproducers are written to
# build-fuzz/ (crash-*, leak-*, timeout-*, oom-*); replay one with
#   FUZZ_BINARY build-fuzz/crash-...
# Exit status: 0 when the fuzzer ran for SECONDS without a finding, else non-zero.
# `make fuzz FUZZ_SECONDS=N` builds everything and calls this script.
set -u

if [ $# -ne 3 ]; then
    echo "usage: $0 BUILD_DIR FUZZ_BINARY SECONDS" >&2
    exit 2
fi
build=$1
fuzzer=$2
seconds=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2

case $build in /*) ;; *) build=$root/$build ;; esac
case $fuzzer in /*) ;; *) fuzzer=$root/$fuzzer ;; esac
hlz=$build/hlz
case $seconds in '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;; esac
[ -x "$hlz" ] || { echo "run.sh: $hlz not found (run make first)" >&2; exit 2; }
[ -x "$fuzzer" ] || { echo "run.sh: $fuzzer not found (run make build-fuzz/fuzz_decompress)" >&2; exit 2; }

out=$root/build-fuzz
corpus=$out/corpus
mkdir -p "$corpus" || exit 2
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# ---- generated inputs -------------------------------------------------------
: >"$tmp/empty"
printf 'x' >"$tmp/one"
cat >"$tmp/text" <<'EOF'
hlz is a lossless archival compressor. An archive is a header, a sequence
of independently coded chunks, an index and a trailer; every chunk records
its codec and a checksum of its raw bytes.
EOF
# Text over several 1 KiB chunks (the last one short).
i=0
: >"$tmp/text5k"
while [ $i -lt 40 ]; do
    echo "line $i: the quick brown fox jumps over the lazy dog, again and again" >>"$tmp/text5k"
    i=$((i + 1))
done
head -c 700 /dev/urandom >"$tmp/random"
head -c 3000 /dev/urandom >"$tmp/random3k"
# Mixed: compressible and incompressible chunks, so auto picks both codecs.
cat "$tmp/text5k" "$tmp/random3k" >"$tmp/mixed"

fail=0
seed() { # NAME INPUT HLZ-OPTIONS...
    name=$1 input=$2
    shift 2
    if ! "$hlz" -q -c -T 1 "$@" <"$input" >"$corpus/seed-$name.hlz"; then
        echo "run.sh: hlz $* failed on $input" >&2
        fail=1
    fi
}
for codec in store zstd auto; do
    seed "empty-$codec" "$tmp/empty" --codec "$codec"
    seed "one-$codec" "$tmp/one" --codec "$codec"
    seed "text-$codec" "$tmp/text" --codec "$codec"
    seed "random-$codec" "$tmp/random" --codec "$codec"
    seed "chunks-text-$codec" "$tmp/text5k" --codec "$codec" --chunk-size 1K
done
seed chunks-mixed-auto "$tmp/mixed" --codec auto --chunk-size 1K
seed chunks-random-zstd "$tmp/random3k" --codec zstd --chunk-size 1K
seed text-zstd-level1 "$tmp/text" --codec zstd -1
# Two archives back to back decode to the concatenation of their contents.
cat "$corpus/seed-text-zstd.hlz" "$corpus/seed-chunks-text-store.hlz" >"$corpus/seed-concat.hlz"
[ $fail -eq 0 ] || exit 2

if [ -d tests/fuzz/seeds ]; then
    for f in tests/fuzz/seeds/*; do
        [ -f "$f" ] && cp "$f" "$corpus/user-$(basename "$f")"
    done
fi
echo "run.sh: corpus $corpus: $(ls "$corpus" | wc -l) files; fuzzing for ${seconds}s"

# ---- fuzz --------------------------------------------------------------------
# halt_on_error makes a UBSan report a finding even if the binary was built
# with recoverable checks.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$out/" "$corpus" >"$out/fuzz_decompress.log" 2>&1
status=$?
# The full log is in $out; show the end (the final stats, or the finding).
tail -n 25 "$out/fuzz_decompress.log"

if [ $status -ne 0 ]; then
    echo "run.sh: FUZZER FOUND A PROBLEM (exit status $status); reproducers:" >&2
    ls -l "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* >&2 2>/dev/null
    exit 1
fi
echo "run.sh: no findings in ${seconds}s"
exit 0
