#!/bin/sh
# tools/gpu/sysroot.sh - on the GPU machine (no package registry there), make the
# library's Debian dependencies available from .deb files carried along.
#
#   here:   sh tools/gpu/sysroot.sh --download     # apt-get download into .device/debs (ignored)
#   there:  . tools/gpu/sysroot.sh                 # unpack into /tmp/hlz-sysroot, export the paths
#           make -j16                               # CFLAGS (compile and link) comes from the environment
# The .debs are unpacked beside the system, never into /, so nothing there changes.
pkgs="libzstd-dev libzstd1 libxxhash-dev libxxhash0 libcjson-dev libcjson1"
if [ "${1:-}" = "--download" ]; then
    mkdir -p .device/debs && (cd .device/debs && apt-get download $pkgs)
    exit $?
fi
sr=/tmp/hlz-sysroot
mkdir -p "$sr"
for f in .device/debs/*.deb; do dpkg -x "$f" "$sr"; done
lib=$sr/usr/lib/x86_64-linux-gnu
# The Makefile puts $(CFLAGS) on compile and link lines alike.
export CFLAGS="-I$sr/usr/include -L$lib -Wl,-rpath,$lib${CFLAGS:+ $CFLAGS}"
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
