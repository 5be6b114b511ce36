#!/bin/sh
# tests/cli/test_lm.sh - the model tools (hlz-convert, hlz-lm) and the llm
# codec through the hlz command, with the models at hand: the committed
# reference models, stories260K from ../shared and the tokenizers npm
# installed (each case skips with a reason when its input is absent).
# Prints one line per case: "ok NAME", "FAIL NAME: why" or "skip NAME: why".
set -u
LC_ALL=C
export LC_ALL
TEST_NAME=lm . "$(pwd)/tests/cli/common.inc"
HLZ=$BUILD/hlz LM=$BUILD/hlz-lm CONVERT=$BUILD/hlz-convert
SHARED=${HLZ_SHARED_DIR:-$root/../shared}
NODE_MODULES=$root/tools/tokenizer-vectors/node_modules/@lenml
failed=0
bad() { echo "FAIL $1: $2"; failed=1; }

# hlz-convert hf, then hlz-lm info: the shape and the converted Llama-3 rope factors show.
if "$CONVERT" hf tests/data/reference/llama3 "$T/l3.gguf" --name l3 2>"$T/err" &&
    "$LM" info "$T/l3.gguf" >"$T/out" 2>>"$T/err" &&
    grep -q '^architecture:  llama' "$T/out" && grep -q 'with frequency factors' "$T/out" &&
    grep -q '^heads:         4 (1 key/value)' "$T/out"; then
    ok convert_hf_and_info
else
    bad convert_hf_and_info "$(cat "$T/err" "$T/out" | head -c 300)"
fi

# Errors name the file and the problem, with exit status 1.
printf 'not a model' >"$T/junk"
"$LM" info "$T/junk" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "^hlz-lm: $T/junk: " "$T/err"; then ok lm_rejects_non_gguf; else bad lm_rejects_non_gguf "rc=$rc $(cat "$T/err")"; fi
"$CONVERT" hf "$T/nowhere" "$T/x.gguf" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && [ ! -e "$T/x.gguf" ] && grep -q "config.json" "$T/err"; then ok convert_missing_dir; else bad convert_missing_dir "rc=$rc $(cat "$T/err")"; fi

# stories260K: greedy generation gives its README's text; hlz codes text with it and decodes it back.
if [ -f "$SHARED/models/stories260K/stories260K.bin" ]; then
    "$CONVERT" llama2c "$SHARED/models/stories260K/stories260K.bin" "$SHARED/models/stories260K/tok512.bin" \
        "$T/s.gguf" --name stories260K 2>"$T/err"
    expect="Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high"
    got=$("$LM" generate "$T/s.gguf" 60 2>>"$T/err")
    if [ "$got" = "$expect" ]; then ok stories260k_generate; else bad stories260k_generate "got: $got $(cat "$T/err")"; fi
    printf 'Once upon a time, there was a cat. The cat was happy.\nTom and Lily played all day. \xff\x00 done\n' >"$T/story.txt"
    if "$HLZ" -q --model "$T/s.gguf" --codec llm -T 2 -c "$T/story.txt" >"$T/story.hlz" 2>"$T/err" &&
        "$HLZ" -l -v "$T/story.hlz" >"$T/list" 2>>"$T/err" && grep -q ' llm ' "$T/list" &&
        grep -q 'model stories260K (fingerprint ' "$T/list" &&
        "$HLZ" -d --model "$T/s.gguf" -c "$T/story.hlz" 2>>"$T/err" | cmp -s - "$T/story.txt"; then
        ok stories260k_llm_round_trip
    else
        bad stories260k_llm_round_trip "$(head -c 300 "$T/err")"
    fi
    # Decoding with another model, or with none, fails and names the model the archive needs.
    "$HLZ" -d --model "$T/l3.gguf" -c "$T/story.hlz" >/dev/null 2>"$T/err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "needs the model 'stories260K' (fingerprint [0-9a-f]*), not 'l3'" "$T/err"; then
        ok wrong_model_named
    else
        bad wrong_model_named "rc=$rc $(cat "$T/err")"
    fi
    env -u HLZ_MODEL "$HLZ" -d -c "$T/story.hlz" >/dev/null 2>"$T/err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "stories260K" "$T/err"; then ok missing_model_named; else bad missing_model_named "rc=$rc $(cat "$T/err")"; fi
else
    for c in stories260k_generate stories260k_llm_round_trip wrong_model_named missing_model_named; do
        echo "skip $c: ../shared/models/stories260K is absent"
    done
fi

# The default model (build/default.gguf, from models/default): auto codes prose with llm when
# that is smaller than zstd, and the archive decodes with the default model found again.
if [ -f "$BUILD/default.gguf" ]; then
    i=0
    : >"$T/prose.txt"
    while [ $i -lt 12 ]; do
        printf 'It was late in the evening when the old man walked down to the river, and he sat there for a long time, thinking of the years that had passed and of the friends he had known.
' >>"$T/prose.txt"
        printf 'The next morning the village was quiet. Some of the children went to school, and their mothers worked in the fields until the sun was high. Nobody spoke of what had happened %d days before.
' "$i" >>"$T/prose.txt"
        i=$((i + 1))
    done
    if env -u HLZ_MODEL "$HLZ" -q -c "$T/prose.txt" >"$T/prose.hlz" 2>"$T/err" &&
        "$HLZ" -l -v "$T/prose.hlz" >"$T/list" 2>>"$T/err" && grep -q 'model hlz default' "$T/list" &&
        grep -q ' text' "$T/list" &&
        env -u HLZ_MODEL "$HLZ" -d -c "$T/prose.hlz" 2>>"$T/err" | cmp -s - "$T/prose.txt" &&
        HLZ_MODEL=none "$HLZ" -q -c "$T/prose.txt" | "$HLZ" -l - | grep -qE ' (zstd|cm)$'; then
        ok default_model_auto_round_trip
    else
        bad default_model_auto_round_trip "$(head -c 300 "$T/err") $(head -c 400 "$T/list")"
    fi
else
    echo "skip default_model_auto_round_trip: build/default.gguf is absent"
fi

# A vocabulary-only GGUF from a real tokenizer.json; hlz-lm tokenize and detokenize round-trip any bytes.
if [ -f "$NODE_MODULES/tokenizer-llama3/models/tokenizer.json" ]; then
    printf 'Hello, world! 12345 caf\xc3\xa9 \xf0\x9f\x98\x80\n\tcode(x) { return x*2; }\n\xff\xfe\x00 raw bytes\n' >"$T/t.txt"
    if "$CONVERT" tokenizer "$NODE_MODULES/tokenizer-llama3/models/tokenizer.json" "$T/v.gguf" 2>"$T/err" &&
        "$LM" tokenize "$T/v.gguf" "$T/t.txt" >"$T/ids" 2>>"$T/err" &&
        "$LM" detokenize "$T/v.gguf" <"$T/ids" >"$T/back" 2>>"$T/err" && cmp -s "$T/back" "$T/t.txt" &&
        [ "$(cut -d' ' -f1-4 "$T/ids")" = "9906 11 1917 0" ]; then
        ok llama3_vocab_round_trip
    else
        bad llama3_vocab_round_trip "$(head -c 300 "$T/err") ids: $(head -c 80 "$T/ids")"
    fi
else
    echo "skip llama3_vocab_round_trip: the npm tokenizers are not installed (tools/setup.sh)"
fi
exit $failed
