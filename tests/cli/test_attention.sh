#!/bin/sh
# tests/cli/test_attention.sh - hlz --attention: int8 archives (the default model: the stand-in's head
# dimension, 48, is no multiple of 32) round trip on the CPU, hybrid and not, with the same bytes for
# any thread count, unlike float ones, listed as such; the stand-in and unknown values are refused.
# Prints one line per case: "ok NAME", "FAIL NAME: why" or "skip NAME: why".
set -u
TEST_NAME=attention . "$(pwd)/tests/cli/common.inc"
DEFAULT=$root/models/default/default.gguf
: >"$T/log"
{
# The stand-in: a clear refusal, status 1, no archive left behind.
cp tests/golden/prose.txt "$T/p.txt"
if "$HLZ" -q --device cpu --model "$MODEL" --attention int8 "$T/p.txt" 2>"$T/err"; then
    fail int8_refused_head_dim "the stand-in model compressed with int8 attention"
elif grep -q 'multiple of 32; this model.s is 48' "$T/err" && [ ! -e "$T/p.txt.hlz" ]; then
    ok int8_refused_head_dim
else
    fail int8_refused_head_dim "$(cat "$T/err"; ls "$T")"
fi
if "$HLZ" -q --model "$MODEL" --attention int4 -c "$T/p.txt" >/dev/null 2>"$T/err"; then
    fail attention_unknown "accepted --attention int4"
elif grep -q "invalid attention 'int4' (float or int8)" "$T/err"; then
    ok attention_unknown
else
    fail attention_unknown "$(cat "$T/err")"
fi
if [ ! -f "$DEFAULT" ]; then
    echo "skip int8_round_trips: $DEFAULT is absent"
else
    head -c 1600 doc/engine.md >"$T/e.txt"
    for mix in none full; do
        if "$HLZ" -q -T 1 --device cpu --model "$DEFAULT" --codec llm --mix $mix --attention int8 --chunk-size 1K \
                -c "$T/e.txt" >"$T/a1.hlz" 2>"$T/err" &&
            "$HLZ" -q -T 2 --device cpu --model "$DEFAULT" --codec llm --mix $mix --attention=int8 --chunk-size 1K \
                -c "$T/e.txt" >"$T/a2.hlz" 2>>"$T/err" &&
            "$HLZ" -q -T 2 --device cpu --model "$DEFAULT" --codec llm --mix $mix --chunk-size 1K \
                -c "$T/e.txt" >"$T/f.hlz" 2>>"$T/err" &&
            cmp -s "$T/a1.hlz" "$T/a2.hlz" && ! cmp -s "$T/a1.hlz" "$T/f.hlz" &&
            "$HLZ" -d -q -T 2 --device cpu --model "$DEFAULT" -c "$T/a1.hlz" 2>>"$T/err" | cmp -s - "$T/e.txt" &&
            HLZ_LOCKSTEP=find "$HLZ" -d -q -T 2 --device cpu --model "$DEFAULT" -c "$T/a1.hlz" 2>>"$T/err" |
                cmp -s - "$T/e.txt" &&
            HLZ_LOCKSTEP=1 "$HLZ" -d -q -T 2 --device cpu --model "$DEFAULT" -c "$T/a1.hlz" 2>>"$T/err" |
                cmp -s - "$T/e.txt"; then
            ok "int8_round_trip_mix_$mix"
        else
            fail "int8_round_trip_mix_$mix" "$(head -c 300 "$T/err")"
        fi
    done
    # -l names the arithmetic of int8 archives, and float ones stay as they were listed
    if "$HLZ" -l "$T/a1.hlz" | head -n 1 | grep -q ', attention int8$' &&
        ! "$HLZ" -l "$T/f.hlz" | grep -q ', attention'; then
        ok int8_listed
    else
        fail int8_listed "$("$HLZ" -l "$T/a1.hlz" | head -n 1)"
    fi
fi
} | tee -a "$T/log"
! grep -q '^FAIL' "$T/log"
