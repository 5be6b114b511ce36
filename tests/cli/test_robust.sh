#!/bin/sh
# tests/cli/test_robust.sh - hlz --codec robust --mismatch C with the committed
# stand-in model: round trips, C shown by hlz -l, the flag's errors, and a
# damaged robust chunk is an error, never wrong output.
# Prints one line per case: "ok NAME", "FAIL NAME: why" or "skip NAME: why".
set -u
TEST_NAME=robust . "$(pwd)/tests/cli/common.inc"


awk 'BEGIN { for (i = 0; i < 40; i++) printf "Line %d: the cat sat on the mat and looked at the sun.\n", i }' >"$T/text"
printf 'caf\xc3\xa9 \xff\xfe broken \x00 NUL\r\n' >"$T/odd"

for c in 1.01 2 3.3333; do
    if "$HLZ" -q --model "$MODEL" --codec robust --mismatch "$c" --chunk-size 1K -c "$T/text" >"$T/a.hlz" 2>"$T/err" &&
        "$HLZ" -d -q --model "$MODEL" -c "$T/a.hlz" 2>>"$T/err" | cmp -s - "$T/text"; then
        ok "robust_round_trip_C$c"
    else
        fail "robust_round_trip_C$c" "$(head -c 200 "$T/err")"
    fi
done
if "$HLZ" -q --model "$MODEL" --codec robust --mismatch=1.5 -c "$T/odd" >"$T/o.hlz" 2>"$T/err" &&
    "$HLZ" -d -q --model "$MODEL" -c "$T/o.hlz" | cmp -s - "$T/odd"; then ok robust_odd_bytes; else fail robust_odd_bytes "$(cat "$T/err")"; fi

# hlz -l names C for each robust chunk (the last archive: C = 3.3333, 3 chunks).
n=$("$HLZ" -l "$T/a.hlz" | grep -c 'robust C=3.333')
if [ "$n" = 3 ]; then ok robust_list_shows_c; else fail robust_list_shows_c "$n chunks listed with C"; fi
if "$HLZ" -l -v "$T/a.hlz" | grep -q 'robust C=3.333.*forced by --codec'; then ok robust_list_verbose
else fail robust_list_verbose "$("$HLZ" -l -v "$T/a.hlz" | head -c 300)"; fi

# The scout never picks robust: text and binary chunks coded automatically
# with the model list llm (or a general codec), never robust.
{ cat "$T/text" "$T/odd"; awk 'BEGIN { srand(7); for (i = 0; i < 3000; i++) printf "%c", int(rand() * 256) }'
  cat "$T/text"; } >"$T/mixed"
if "$HLZ" -q --model "$MODEL" --chunk-size 1K -c "$T/mixed" >"$T/m.hlz" 2>"$T/err" &&
    "$HLZ" -l "$T/m.hlz" >"$T/list" && grep -q ' llm' "$T/list" && ! grep -Eq 'robust C=|robust [0-9]' "$T/list"; then
    ok robust_never_auto
else
    fail robust_never_auto "$(cat "$T/err" "$T/list" 2>/dev/null | head -c 300)"
fi

# The flag's errors: each exits 1 with a message and writes nothing.
err_case() { # NAME EXPECTED-MESSAGE ARGS...
    name=$1 want=$2
    shift 2
    rm -f "$T/e.hlz"
    if "$HLZ" "$@" -o "$T/e.hlz" "$T/text" 2>"$T/err"; then fail "$name" "exit 0"
    elif [ -e "$T/e.hlz" ]; then fail "$name" "wrote output"
    elif ! grep -q -- "$want" "$T/err"; then fail "$name" "$(cat "$T/err")"
    else ok "$name"; fi
}
err_case robust_needs_mismatch "needs --mismatch" --model "$MODEL" --codec robust
err_case robust_mismatch_one "invalid mismatch" --model "$MODEL" --codec robust --mismatch 1
err_case robust_mismatch_text "invalid mismatch" --model "$MODEL" --codec robust --mismatch two
err_case robust_mismatch_huge "invalid mismatch" --model "$MODEL" --codec robust --mismatch 1e9
err_case robust_mismatch_other_codec "applies only to --codec robust" --model "$MODEL" --codec llm --mismatch 2
err_case robust_mismatch_auto "applies only to --codec robust" --model "$MODEL" --mismatch 2
err_case robust_needs_model "needs a model" --model none --codec robust --mismatch 2

# A damaged robust payload: a flipped bit in the last chunk's stream is an
# error (the chunk's payload check), never wrong output.
size=$(wc -c <"$T/a.hlz")
off=$((size - 16 - 33 - 12 - 6))
cp "$T/a.hlz" "$T/bad.hlz"
printf '\125' | dd of="$T/bad.hlz" bs=1 seek="$off" conv=notrunc 2>/dev/null
if "$HLZ" -d -q --model "$MODEL" -c "$T/bad.hlz" >"$T/out" 2>"$T/err"; then fail robust_damaged "decoded"
elif [ -s "$T/out" ] && ! head -c "$(wc -c <"$T/out")" "$T/text" | cmp -s - "$T/out"; then fail robust_damaged "wrong bytes out"
else ok robust_damaged; fi
