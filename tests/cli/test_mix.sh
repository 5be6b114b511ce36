#!/bin/sh
# tests/cli/test_mix.sh - hlz --mix LEVEL with the committed stand-in model:
# every level round-trips, hlz -l names the online models of each llm chunk,
# --mix none writes a format 1 archive and the others format 2, each level
# codes a repetitive text smaller than the one before it, and bad levels are
# refused.
# Prints one line per case: "ok NAME", "FAIL NAME: why".
set -u
TEST_NAME=mix . "$(pwd)/tests/cli/common.inc"


# Text whose repeats lie further back than the model's window sees.
awk 'BEGIN { split("red green blue yellow black white", c, " "); for (i = 0; i < 150; i++) printf "The %s cat of house %d sat on the %s mat, and the old man said that it was a good day for the cat.\n", c[i % 6 + 1], i % 11, c[(i * 7) % 6 + 1] }' >"$T/text"

prev=0
for level in none match context full; do
    if ! "$HLZ" -q -T 2 --model "$MODEL" --codec llm --mix "$level" -c "$T/text" >"$T/$level.hlz" 2>"$T/err"; then
        fail "mix_${level}_compress" "$(head -c 200 "$T/err")"
        continue
    fi
    if "$HLZ" -d -q --model "$MODEL" -c "$T/$level.hlz" 2>"$T/err" | cmp -s - "$T/text"; then ok "mix_${level}_round_trip"
    else fail "mix_${level}_round_trip" "$(head -c 200 "$T/err")"; fi
    # The GPU's decoder (lockstep, token searches; hybrid chunks by guesses, decisions and a search), here on the CPU.
    if HLZ_LOCKSTEP=find "$HLZ" -d -q -T 2 --model "$MODEL" -c "$T/$level.hlz" 2>"$T/err" | cmp -s - "$T/text"; then
        ok "mix_${level}_lockstep_find"
    else fail "mix_${level}_lockstep_find" "$(head -c 200 "$T/err")"; fi
    size=$(wc -c <"$T/$level.hlz")
    if [ "$prev" = 0 ] || [ "$size" -lt "$prev" ]; then ok "mix_${level}_smaller"
    else fail "mix_${level}_smaller" "$size bytes, the level before $prev"; fi
    prev=$size
done

# hlz -l: the codec column names the parts (m match, c context, s secondary estimation).
for case in none:llm: match:llm+m: context:llm+mc: full:llm+mcs:; do
    level=${case%%:*} want=${case#*:}
    got=$("$HLZ" -l "$T/$level.hlz" | awk 'NR == 3 { print $6 ":" }')
    if [ "$got" = "$want" ]; then ok "mix_${level}_listed"; else fail "mix_${level}_listed" "codec '$got', expected '$want'"; fi
done
# The format version: 1 for the model alone (as hlz 0.1 wrote), 2 with online models.
if "$HLZ" -l "$T/none.hlz" | head -1 | grep -q 'format 1,' && "$HLZ" -l "$T/full.hlz" | head -1 | grep -q 'format 2,'; then
    ok mix_format_version
else
    fail mix_format_version "$("$HLZ" -l "$T/none.hlz" | head -1) / $("$HLZ" -l "$T/full.hlz" | head -1)"
fi
# The default is full.
if "$HLZ" -q -T 2 --model "$MODEL" --codec llm -c "$T/text" | cmp -s - "$T/full.hlz"; then ok mix_default_full
else fail mix_default_full "the default differs from --mix full"; fi

rm -f "$T/e.hlz"
if "$HLZ" --model "$MODEL" --codec llm --mix all -o "$T/e.hlz" "$T/text" 2>"$T/err"; then fail mix_bad_level "exit 0"
elif [ -e "$T/e.hlz" ]; then fail mix_bad_level "wrote output"
elif ! grep -q "invalid mix 'all'" "$T/err"; then fail mix_bad_level "$(cat "$T/err")"
else ok mix_bad_level; fi
