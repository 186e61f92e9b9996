#!/usr/bin/env bash
# Builds libcodex_sandbox in release mode and installs it under a prefix:
#
#   PREFIX/lib/libcodex_sandbox.so.0.1.0   the shared library (SONAME libcodex_sandbox.so.0)
#   PREFIX/lib/libcodex_sandbox.so.0       -> libcodex_sandbox.so.0.1.0
#   PREFIX/lib/libcodex_sandbox.so         -> libcodex_sandbox.so.0   (for -lcodex_sandbox)
#   PREFIX/lib/libcodex_sandbox.a          the static library
#   PREFIX/include/codex_sandbox.h         the header
#   PREFIX/lib/pkgconfig/codex_sandbox.pc  for `pkg-config --cflags --libs codex_sandbox`
#
# Usage: ffi/install.sh PREFIX        (e.g. /usr/local, or $HOME/.local)
#        ffi/install.sh --no-build PREFIX   install what target/release already holds
# DESTDIR is honoured for staged installs (the .pc file still names PREFIX).
set -euo pipefail

build=1
if [ "${1:-}" = "--no-build" ]; then
    build=0
    shift
fi
if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 [--no-build] PREFIX" >&2
    exit 2
fi
prefix=$1
case "$prefix" in
    /*) ;;
    *) prefix="$(pwd)/$prefix" ;;
esac

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ "$build" = 1 ]; then
    cargo build --release --locked -p codex-sandbox-ffi
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
release="$target_dir/release"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
for file in "$release/libcodex_sandbox.so" "$release/libcodex_sandbox.a"; do
    [ -f "$file" ] || { echo "$0: missing $file (build first, or drop --no-build)" >&2; exit 1; }
done

dest="${DESTDIR:-}$prefix"
libdir="$prefix/lib"
install -d "$dest/lib/pkgconfig" "$dest/include"
install -m 0755 "$release/libcodex_sandbox.so" "$dest/lib/libcodex_sandbox.so.$version"
ln -sfn "libcodex_sandbox.so.$version" "$dest/lib/libcodex_sandbox.so.0"
ln -sfn "libcodex_sandbox.so.0" "$dest/lib/libcodex_sandbox.so"
install -m 0644 "$release/libcodex_sandbox.a" "$dest/lib/libcodex_sandbox.a"
install -m 0644 include/codex_sandbox.h "$dest/include/codex_sandbox.h"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$libdir|g" -e "s|@VERSION@|$version|g" \
    ffi/codex_sandbox.pc.in >"$dest/lib/pkgconfig/codex_sandbox.pc"
chmod 0644 "$dest/lib/pkgconfig/codex_sandbox.pc"
echo "installed libcodex_sandbox $version under ${DESTDIR:-}$prefix"
