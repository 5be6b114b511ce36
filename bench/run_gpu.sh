#!/bin/bash
# bench/run_gpu.sh [run.sh OPTIONS] [DIR] - the hlz measurements on a GPU machine.
#
# Runs bench/run.sh with --device cuda --no-peers --tag gpu: the same hlz runs
# (hlz-zstd, hlz-auto, hlz-llm with the default model or --model), the same
# round-trip checks and the same CSV columns, with device "cuda" and the GPU's
# name in the hardware column. Output: bench/results/DATE-HOST-gpu.{csv,md,png}.
# Combine it with a CPU run:
#   bash bench/report.sh --out bench/results/combined CPU.csv GPU.csv
#
# Builds build/hlz first when it is missing (make). When the hlz binary has no
# --device option (no CUDA backend yet), it says so and exits 0. Options are
# those of bench/run.sh (--model, --repeats, --llm-repeats, --only, --timeout,
# --threads, --hlz, --tag ...); --timeout defaults to 600 here.
set -u
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

hlz=build/hlz
prev=''
for a in "$@"; do
    case $a in --hlz=*) hlz=${a#*=} ;; esac
    [ "$prev" = --hlz ] && hlz=$a
    prev=$a
done
if [ ! -x "$hlz" ] && [ "$hlz" = build/hlz ]; then
    echo "run_gpu.sh: building build/hlz" >&2
    make -j"$(nproc)" all >&2 || { echo "run_gpu.sh: ERROR: make failed" >&2; exit 1; }
fi
[ -x "$hlz" ] || { echo "run_gpu.sh: ERROR: $hlz not found" >&2; exit 1; }

if ! "$hlz" -h 2>&1 | grep -q -- '--device'; then
    echo "run_gpu.sh: $hlz has no CUDA backend (no --device option in 'hlz -h'): nothing to measure on the GPU"
    exit 0
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "run_gpu.sh: note: nvidia-smi finds no GPU here; hlz --device cuda may fail" >&2
fi
exec bash "$root/bench/run.sh" --timeout 600 --device cuda --no-peers --tag gpu "$@"
