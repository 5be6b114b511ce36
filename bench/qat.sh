#!/bin/bash
# bench/qat.sh CORPUS_DIR [BENCH_DIR] - quantization-aware fine-tuning of the default model on the GPU
# machine, measured through hlz in the same run (after `. tools/gpu/sysroot.sh`; about 7 minutes):
#   1. tools/train/qat.py: the default GGUF read into PyTorch, validation bits per byte float and with
#      hlz's quantization simulated, QAT_SECONDS of training with that quantization, the best step kept;
#   2. the model as read, converted back with hlz-convert, must equal models/default/default.gguf byte
#      for byte (proves the reading, the q/k permutation and the tokenizer rebuild);
#   3. hlz-convert of the result, then whole archives (hlz --device cuda) of the bench's text files with
#      the old and the new model, --mix none and --mix full, and CPU decodes of the small ones.
# Output under $OUT: qat.txt, train.log, summary.json, new.gguf.part-* (the new model, split to travel).
# The price of an integer attention (tools/train/attnsim.py), one table, no training: QAT_ARGS=--eval-only
# bash bench/qat.sh CORPUS_DIR gives validation bpb float, q8 and q8 with each of qk8, qkv8, qkv8e, then
# stops; QAT_ARGS="--attention qkv8e" trains with one of them (measured through hlz: float attention).
. "$(dirname "$0")/gpu_report.sh" # set -u, LC_ALL=C, the repository root as the working folder
CORPUS=${1:?usage: bench/qat.sh CORPUS_DIR [BENCH_DIR]}
BENCH=${2:-.device/bench}
report_open build/qat qat.txt
OLD=models/default/default.gguf
NAME="hlz default 15.7M"
make -j16 build/hlz build/hlz-convert >"$R/build.log" 2>&1 || { tail -n 20 "$R/build.log"; say "build: FAIL"; exit 1; }
s=$(date +%s)
python3 tools/train/qat.py --gguf "$OLD" --corpus "$CORPUS" --out "$W/new" --save-before "$W/before" \
    --train-seconds "${QAT_SECONDS:-150}" --lr "${QAT_LR:-3e-4}" ${QAT_ARGS:-} >"$R/train.log" 2>&1
rc=$?
say "## qat.py rc=$rc in $(( $(date +%s) - s )) s"
grep -E 'before:|after|tokenizer rebuilt|M tokens/s|data:|attention simulation' "$R/train.log" | tee -a "$REPORT"
[ $rc -eq 0 ] || { tail -n 30 "$R/train.log"; exit 1; }
cp "$W/new/summary.json" "$R/summary.json"
case " ${QAT_ARGS:-} " in *" --eval-only "*) say "## --eval-only: no model to convert"; exit 0 ;; esac
build/hlz-convert hf "$W/before" "$W/before.gguf" --type q8_0 --name "$NAME" >/dev/null 2>&1
same=DIFFER; cmp -s "$W/before.gguf" "$OLD" && same=identical
say "## the model as read, converted back: $same to $OLD"
build/hlz-convert hf "$W/new" "$W/new.gguf" --type q8_0 --name "$NAME" >"$R/convert.log" 2>&1 || { say "convert: FAIL"; exit 1; }
say "## new model: $(stat -c %s "$W/new.gguf") bytes, sha256 $(sha256sum "$W/new.gguf" | cut -c1-16)"
split -b 12M -d "$W/new.gguf" "$R/new.gguf.part-"
say "## bits per byte through hlz (whole archive bytes x 8 / file bytes), --device cuda -T $(nproc)"
say "file bytes old-none new-none old-full new-full"
for f in canterbury/alice29.txt canterbury/asyoulik.txt canterbury/lcet10.txt canterbury/plrabn12.txt \
    canterbury/cp.html canterbury/fields.c canterbury/grammar.lsp canterbury/xargs.1 enwik/enwik5 snappy/html; do
    [ -f "$BENCH/$f" ] || continue
    n=$(stat -c %s "$BENCH/$f")
    row="$f $n"
    for mix in none full; do
        for m in old new; do
            model=$OLD; [ $m = new ] && model=$W/new.gguf
            build/hlz -q -f -T "$(nproc)" --device cuda --codec llm --mix $mix --model "$model" -c "$BENCH/$f" >"$W/$m-$mix.hlz" 2>>"$R/hlz.err"
            row="$row $(awk "BEGIN{printf \"%.4f\", $(stat -c %s "$W/$m-$mix.hlz") * 8 / $n}")"
        done
    done
    say "$row"
    if [ "$n" -lt 20000 ]; then
        back=FAIL
        build/hlz -d -q -T "$(nproc)" --device cpu --model "$W/new.gguf" -c "$W/new-full.hlz" 2>>"$R/hlz.err" | cmp -s - "$BENCH/$f" && back=ok
        say "    new model --mix full archive decoded on the cpu: $back"
    fi
done
