#!/bin/bash
# bench/mix_cpu.sh [FILE] [BYTES] [REPEATS] - CPU cost of the online models (--mix full against --mix none):
# the default model, the first BYTES (24000) of FILE (../shared/bench/canterbury/lcet10.txt), -T 2,
# --device cpu, alternating; prints per run: archive bytes, then user, system and wall seconds of the
# compression (c) and of the decompression (d), and whether the round trip is exact.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
H=$root/build/hlz
M=$root/models/default/default.gguf
F=${1:-$root/../shared/bench/canterbury/lcet10.txt}
W=$(mktemp -d) || exit 2
trap 'rm -rf "$W"' EXIT
head -c "${2:-24000}" "$F" >"$W/s.txt"
echo "# bench/mix_cpu.sh $(date -u +%FT%TZ) $(git -C "$root" rev-parse --short HEAD) $(basename "$F") $(stat -c %s "$W/s.txt") bytes, $(nproc) CPUs"
echo "# run mix bytes c user sys wall d user sys wall"
for r in $(seq "${3:-3}"); do
    for mix in none full; do
        /usr/bin/time -f "%U %S %e" -o "$W/t.c" "$H" -q -f -T 2 --device cpu --codec llm --mix $mix --model "$M" -c "$W/s.txt" >"$W/$mix.hlz"
        /usr/bin/time -f "%U %S %e" -o "$W/t.d" "$H" -d -q -T 2 --device cpu --model "$M" -c "$W/$mix.hlz" >"$W/back"
        ok=FAIL; cmp -s "$W/back" "$W/s.txt" && ok=ok
        echo "$r $mix $(stat -c %s "$W/$mix.hlz") c $(cat "$W/t.c") d $(cat "$W/t.d") $ok"
    done
done
