#!/bin/sh
# tests/cli/test_llm_roundtrip.sh - the llm codec with the committed stand-in
# model on the foundation's edge cases and on the start of every file of
# ../shared/bench (8 KiB each, to keep the CPU time small): exact round trips,
# and a damaged llm chunk is an error, never wrong output.
# Prints one line per case: "ok NAME", "FAIL NAME: why" or "skip NAME: why".
set -u
TEST_NAME=llmrt . "$(pwd)/tests/cli/common.inc"
SHARED=${HLZ_SHARED_DIR:-$root/../shared}
: >"$T/log"

check() { # NAME FILE [hlz options...]: llm round trip of FILE
    name=$1 file=$2
    shift 2
    if "$HLZ" -q -T 2 --model "$MODEL" --codec llm "$@" -c "$file" >"$T/a.hlz" 2>"$T/err" &&
        "$HLZ" -d -q -T 2 --model "$MODEL" -c "$T/a.hlz" 2>>"$T/err" | cmp -s - "$file"; then
        echo "ok $name"
    else
        echo "FAIL $name: $(head -c 200 "$T/err")"
    fi | tee -a "$T/log"
}

: >"$T/empty"
printf 'x' >"$T/one"
head -c 4096 /dev/zero >"$T/zeros"
awk 'BEGIN { srand(7); for (i = 0; i < 3000; i++) printf "%c", int(rand() * 256) }' >"$T/random" 2>/dev/null || head -c 3000 /dev/urandom >"$T/random"
printf 'caf\xc3\xa9 \xff\xfe\xc3 broken \xed\xa0\x80 utf-8 \x00 NUL\r\n\tand \x1b[1m control\n' >"$T/invalid"
awk 'BEGIN { for (i = 0; i < 120; i++) printf "Line %d of a text that goes on for more than one chunk.\n", i }' >"$T/chunks"
check llm_empty "$T/empty"
check llm_one_byte "$T/one"
check llm_all_zeros "$T/zeros"
check llm_random_bytes "$T/random"
check llm_invalid_utf8 "$T/invalid"
check llm_many_chunks "$T/chunks" --chunk-size 1K
head -c 1025 "$T/chunks" >"$T/plus1"
check llm_chunk_plus_one "$T/plus1" --chunk-size 1K
if [ -n "${HLZ_TEST_QUICK:-}" ]; then
    echo "skip llm_bench: HLZ_TEST_QUICK (sanitizer runs) leaves the bench files to the plain run"
elif [ -d "$SHARED/bench" ]; then
    for f in "$SHARED"/bench/*/*; do
        [ -f "$f" ] || continue
        head -c 8192 "$f" >"$T/part"
        check "llm_bench_$(basename "$f")" "$T/part"
    done
else
    echo "skip llm_bench: ../shared/bench is absent"
fi

# A damaged llm payload: the payload check stops it; with that check
# repaired by hand the rANS stream, the token count or the chunk checksum do.
"$HLZ" -q --model "$MODEL" --codec llm -c "$T/chunks" >"$T/c.hlz"
size=$(wc -c <"$T/c.hlz")
printf '\001' | dd of="$T/c.hlz" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
if "$HLZ" -d --model "$MODEL" -c "$T/c.hlz" >"$T/out" 2>"$T/err"; then
    echo "FAIL llm_damage_detected: a damaged archive decoded" | tee -a "$T/log"
elif grep -q 'corrupt\|checksum' "$T/err"; then
    echo "ok llm_damage_detected" | tee -a "$T/log"
else
    echo "FAIL llm_damage_detected: message: $(cat "$T/err")" | tee -a "$T/log"
fi
! grep -q '^FAIL' "$T/log"
