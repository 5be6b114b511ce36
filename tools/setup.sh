#!/bin/sh
# tools/setup.sh - on a fresh Debian 12 machine (as root): installs the Debian
# packages hlz needs, builds it, and runs the main job on a sample file.
#   sh tools/setup.sh            install, build, demo
#   sh tools/setup.sh --deps     install only
set -eu
cd "$(dirname "$0")/.."

# Build: compiler, make, libzstd, xxhash and cJSON headers. Tests: clang (libFuzzer),
# tar, xz and zstd command-line tools, bsdutils's script (terminal tests).
PACKAGES="build-essential libzstd-dev libxxhash-dev libcjson-dev zstd xz-utils tar clang libclang-rt-14-dev bsdutils"

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
[ "${1:-}" = "--deps" ] && exit 0

make -j"$(nproc)"
sh tools/demo.sh build/hlz
