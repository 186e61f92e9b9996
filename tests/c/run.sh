#!/usr/bin/env bash
# C tests of libcodex_sandbox, end to end:
#
#  1. ffi/install.sh into a temporary prefix (a release build), then check the installed .so:
#     SONAME libcodex_sandbox.so.0 and no exported symbol but codex_sandbox_*;
#  2. compile tests/c/sandbox_test.c and ffi/examples/run.c with
#     `cc -std=c11 -Wall -Wextra -Werror` against the INSTALLED header, found through
#     pkg-config, linked once against the .so and once against the .a;
#  3. run both test binaries (and the example) as the current user and, when that is root,
#     again as uid 65534 from the world-readable prefix under /tmp;
#  4. run the test binary under valgrind once, on the tests that spawn nothing
#     (--errors-only: error paths, explain, probe, seatbelt; valgrind does not emulate the
#     namespace clone flags the spawning tests need), failing on invalid accesses or
#     definite/indirect leaks.
#
# Usage: tests/c/run.sh [--no-valgrind] [--no-build]   (CC overrides the compiler)
# Prints each run's "N passed, N failed" and exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

valgrind=1
build_flag=()
for arg in "$@"; do
    case "$arg" in
        --no-valgrind) valgrind=0 ;;
        --no-build) build_flag=(--no-build) ;;
        *) echo "usage: $0 [--no-valgrind] [--no-build]" >&2; exit 2 ;;
    esac
done
cc=${CC:-cc}
cflags=(-std=c11 -Wall -Wextra -Werror -O1 -g)

work=$(mktemp -d /tmp/codex-sandbox-ctest.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
prefix="$work/prefix"
bin="$work/bin"
mkdir -p "$bin"

echo "== install to $prefix"
ffi/install.sh "${build_flag[@]}" "$prefix"
libdir="$prefix/lib"
export PKG_CONFIG_PATH="$libdir/pkgconfig"

echo "== check the installed library"
soname=$(readelf -d "$libdir/libcodex_sandbox.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
if [ "$soname" != "libcodex_sandbox.so.0" ]; then
    echo "FAIL: SONAME is '$soname', expected libcodex_sandbox.so.0" >&2
    exit 1
fi
foreign=$(nm -D --defined-only "$libdir/libcodex_sandbox.so" | awk '{print $3}' | grep -v '^codex_sandbox_' || true)
if [ -n "$foreign" ]; then
    echo "FAIL: the .so exports symbols outside codex_sandbox_*:" >&2
    echo "$foreign" >&2
    exit 1
fi
echo "SONAME $soname; $(nm -D --defined-only "$libdir/libcodex_sandbox.so" | wc -l) exported symbols, all codex_sandbox_*"

echo "== compile against the installed header (.so and .a)"
# shellcheck disable=SC2046
"$cc" "${cflags[@]}" -pthread tests/c/sandbox_test.c -o "$bin/sandbox_test_shared" \
    $(pkg-config --cflags --libs codex_sandbox) -Wl,-rpath,"$libdir"
# The static library: the archive itself, then what pkg-config says it needs.
static_libs=$(pkg-config --static --libs-only-l codex_sandbox | sed 's/-lcodex_sandbox//')
# shellcheck disable=SC2046,SC2086
"$cc" "${cflags[@]}" -pthread tests/c/sandbox_test.c -o "$bin/sandbox_test_static" \
    $(pkg-config --cflags codex_sandbox) "$libdir/libcodex_sandbox.a" $static_libs
if readelf -d "$bin/sandbox_test_static" | grep -q 'libcodex_sandbox'; then
    echo "FAIL: the static test binary still needs libcodex_sandbox.so" >&2
    exit 1
fi
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror ffi/examples/run.c -o "$bin/run" \
    $(pkg-config --cflags --libs codex_sandbox) -Wl,-rpath,"$libdir"
chmod -R a+rX "$work"

failures=0
summary=()
# run LABEL COMMAND...: runs a test binary, records its closing line.
run() {
    local label=$1
    shift
    echo "== $label"
    local log="$work/log.$RANDOM"
    set +e
    (cd "$work" && "$@") 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    set -e
    local last
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1 || true)
    [ -n "$last" ] || last="no result line"
    summary+=("$label: $last (exit $status)")
    if [ "$status" -ne 0 ]; then
        failures=$((failures + 1))
    fi
}

# example: the README's example program, inside and outside the workspace.
example() {
    local as=("$@")
    local dir="$work/example"
    mkdir -p "$dir"
    chmod 0777 "$dir"
    echo "== example ffi/examples/run.c ${as[*]:+(as ${as[*]})}"
    local out status
    out=$(cd "$dir" && "${as[@]}" "$bin/run" workspace-write /bin/sh -c 'echo hi > made-here; cat made-here; exit 3')
    status=$?
    if [ "$status" -ne 3 ] || [ "$out" != "hi" ]; then
        echo "FAIL: example printed '$out', exit $status (expected hi, 3)" >&2
        return 1
    fi
    set +e
    (cd "$dir" && "${as[@]}" "$bin/run" read-only /bin/sh -c 'echo x > refused' 2>/dev/null)
    status=$?
    set -e
    if [ "$status" -eq 0 ] || [ -e "$dir/refused" ]; then
        echo "FAIL: a read-only sandbox wrote $dir/refused (exit $status)" >&2
        return 1
    fi
    rm -rf "$dir"
    echo "example ok"
}

run "shared, uid $(id -u)" "$bin/sandbox_test_shared"
run "static, uid $(id -u)" "$bin/sandbox_test_static"
example || failures=$((failures + 1))

if [ "$(id -u)" = 0 ]; then
    drop=(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp)
    run "shared, uid 65534" "${drop[@]}" "$bin/sandbox_test_shared"
    run "static, uid 65534" "${drop[@]}" "$bin/sandbox_test_static"
    example "${drop[@]}" || failures=$((failures + 1))
else
    echo "== not root: the uid 65534 pass is skipped"
fi

if [ "$valgrind" = 1 ]; then
    if command -v valgrind >/dev/null; then
        run "valgrind, shared, --errors-only" valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
            --suppressions="$root/tests/c/valgrind.supp" \
            "$bin/sandbox_test_shared" --errors-only
    else
        echo "FAIL: valgrind is not installed (pass --no-valgrind to skip it)" >&2
        failures=$((failures + 1))
    fi
fi

echo "== summary"
printf '  %s\n' "${summary[@]}"
if [ "$failures" -ne 0 ]; then
    echo "C tests: $failures run(s) failed"
    exit 1
fi
echo "C tests: all runs passed"
