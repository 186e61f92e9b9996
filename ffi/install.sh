#!/usr/bin/env bash
# Installs libcodex_sandbox under a prefix with cargo-c, or removes it again:
#
#   ffi/install.sh PREFIX               cargo cinstall --release --locked -p codex-sandbox-ffi
#   ffi/install.sh --uninstall PREFIX   removes the files that install wrote
#
# What lands (cargo-c's layout, [package.metadata.capi] in ffi/Cargo.toml):
#   LIBDIR/libcodex_sandbox.so.0.1.0    the shared library, SONAME libcodex_sandbox.so.0
#   LIBDIR/libcodex_sandbox.so.0, .so   links to it
#   LIBDIR/libcodex_sandbox.a           the static library
#   LIBDIR/pkgconfig/codex_sandbox.pc   Libs.private from rustc's --print native-static-libs
#   PREFIX/include/codex_sandbox.h      the committed header
# LIBDIR defaults to PREFIX/lib; DESTDIR stages the install (the .pc still names PREFIX).
# Needs cargo-c: `cargo install cargo-c --locked` (0.10.24+cargo-0.98.0 is the last release
# that builds with rustc 1.95; later ones need a newer rustc).
set -euo pipefail

uninstall=0
if [ "${1:-}" = "--uninstall" ]; then
    uninstall=1
    shift
fi
if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 [--uninstall] PREFIX" >&2
    exit 2
fi
prefix=$1
case "$prefix" in
    /*) ;;
    *) prefix="$(pwd)/$prefix" ;;
esac
libdir=${LIBDIR:-$prefix/lib}
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ "$uninstall" = 1 ]; then
    dest=${DESTDIR:-}
    rm -f -- "$dest$libdir"/libcodex_sandbox.so "$dest$libdir"/libcodex_sandbox.so.[0-9]* \
        "$dest$libdir/libcodex_sandbox.a" "$dest$libdir/pkgconfig/codex_sandbox.pc" \
        "$dest$prefix/include/codex_sandbox.h"
    # Directories the install created are removed only when nothing else is in them.
    rmdir -- "$dest$libdir/pkgconfig" "$dest$libdir" "$dest$prefix/include" 2>/dev/null || true
    echo "removed libcodex_sandbox from $dest$prefix"
    exit 0
fi

if ! cargo cinstall --version >/dev/null 2>&1; then
    echo "$0: cargo-c is not installed; install it with: cargo install cargo-c --locked (with rustc 1.95: --version 0.10.24+cargo-0.98.0)" >&2
    exit 1
fi
destdir=()
[ -n "${DESTDIR:-}" ] && destdir=(--destdir "$DESTDIR")
cd "$root"
cargo cinstall --release --locked -p codex-sandbox-ffi --prefix "$prefix" --libdir "$libdir" \
    "${destdir[@]}"
