#!/usr/bin/env bash
# C tests of libcodex_sandbox, end to end:
#
#  1. ffi/install.sh (cargo cinstall) into a temporary prefix, then check what cargo-c wrote:
#     the versioned .so with SONAME libcodex_sandbox.so.0 and both links, the .a, the .pc and
#     the header; no exported symbol but codex_sandbox_*;
#  2. compile tests/c/sandbox_test.c and ffi/examples/run.c with
#     `cc -std=c11 -Wall -Wextra -Werror` against the INSTALLED header, found through
#     pkg-config, with the README's dynamic and static link lines (the static binary must not
#     need libcodex_sandbox.so); tests/c/header_test.cpp as C++11 against the same header;
#  3. the in-place build: `cargo build --release -p codex-sandbox-ffi`, and the README's line
#     that links ffi/examples/run.c against target/release directly;
#  4. run the test binaries (and the examples) as the current user and, when that is root,
#     the installed ones again as uid 65534 from the world-readable prefix under /tmp;
#  5. run the test binary under valgrind once, on the tests that spawn nothing
#     (--errors-only: error paths, explain, probe, seatbelt; valgrind does not emulate the
#     namespace clone flags the spawning tests need), failing on invalid accesses or
#     definite/indirect leaks;
#  6. ffi/install.sh --uninstall leaves the prefix empty.
#
# Without cargo-c (`cargo install cargo-c --locked`) steps 1, 2, 4 (installed part) and 6 are
# skipped with a message, and that is a failure when CODEX_SANDBOX_REQUIRE_ALL=1.
#
# Usage: tests/c/run.sh [--no-valgrind]   (CC and CXX override the compilers)
# Prints each run's "N passed, N failed" and exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

valgrind=1
for arg in "$@"; do
    case "$arg" in
        --no-valgrind) valgrind=0 ;;
        *) echo "usage: $0 [--no-valgrind]" >&2; exit 2 ;;
    esac
done
cc=${CC:-cc}
cxx=${CXX:-c++}
cflags=(-std=c11 -Wall -Wextra -Werror -O1 -g)
target_dir=${CARGO_TARGET_DIR:-$root/target}

work=$(mktemp -d /tmp/codex-sandbox-ctest.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
prefix="$work/prefix"
bin="$work/bin"
mkdir -p "$bin"
summary=()
total_passed=0
total_failed=0

# fail MESSAGE: records a failed check without stopping the other ones.
fail() {
    echo "FAIL: $*" >&2
    summary+=("FAIL: $*")
    total_failed=$((total_failed + 1))
}

# check_library SO: SONAME libcodex_sandbox.so.0, and nothing exported but codex_sandbox_*.
check_library() {
    local so=$1 soname foreign
    soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
    [ "$soname" = "libcodex_sandbox.so.0" ] || { fail "$so: SONAME is '$soname', expected libcodex_sandbox.so.0"; return; }
    [ -e "$(dirname "$so")/$soname" ] || fail "$so: no file named after its SONAME next to it"
    foreign=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^codex_sandbox_' || true)
    [ -z "$foreign" ] || fail "$so exports symbols outside codex_sandbox_*: $foreign"
    echo "$so: SONAME $soname; $(nm -D --defined-only "$so" | wc -l) exported symbols, all codex_sandbox_*"
}

installed=0
if cargo cinstall --version >/dev/null 2>&1; then
    installed=1
    echo "== cargo-c install to $prefix ($(cargo cinstall --version | head -n1))"
    ffi/install.sh "$prefix"
    libdir="$prefix/lib"
    export PKG_CONFIG_PATH="$libdir/pkgconfig"

    echo "== check the installed files"
    version=$(pkg-config --modversion codex_sandbox)
    for file in "libcodex_sandbox.so.$version" libcodex_sandbox.a pkgconfig/codex_sandbox.pc; do
        [ -f "$libdir/$file" ] && [ ! -L "$libdir/$file" ] || fail "missing regular file $libdir/$file"
    done
    [ "$(readlink "$libdir/libcodex_sandbox.so.0")" = "libcodex_sandbox.so.$version" ] ||
        fail "libcodex_sandbox.so.0 does not link to libcodex_sandbox.so.$version"
    [ "$(readlink "$libdir/libcodex_sandbox.so")" = "libcodex_sandbox.so.$version" ] ||
        [ "$(readlink "$libdir/libcodex_sandbox.so")" = "libcodex_sandbox.so.0" ] ||
        fail "libcodex_sandbox.so does not link to the library"
    cmp -s include/codex_sandbox.h "$prefix/include/codex_sandbox.h" || fail "the installed header is not include/codex_sandbox.h"
    check_library "$libdir/libcodex_sandbox.so"
    # cargo-c takes Libs.private from rustc's native-static-libs: it must name at least libc.
    private=$(sed -n 's/^Libs.private: *//p' "$libdir/pkgconfig/codex_sandbox.pc")
    echo "Libs.private: $private"
    case " $private " in *" -lc "*) ;; *) fail "Libs.private '$private' does not name -lc" ;; esac

    echo "== compile against the installed header with the README's link lines"
    # The README's dynamic line:
    # shellcheck disable=SC2046
    "$cc" "${cflags[@]}" -o "$bin/run" ffi/examples/run.c $(pkg-config --cflags --libs codex_sandbox) \
        -Wl,-rpath,"$(pkg-config --variable=libdir codex_sandbox)"
    # shellcheck disable=SC2046
    "$cc" "${cflags[@]}" -pthread -o "$bin/sandbox_test_shared" tests/c/sandbox_test.c \
        $(pkg-config --cflags --libs codex_sandbox) -Wl,-rpath,"$(pkg-config --variable=libdir codex_sandbox)"
    # The README's static line: the archive, then (as needed) what pkg-config says it needs.
    # shellcheck disable=SC2046
    "$cc" "${cflags[@]}" -o "$bin/run_static" ffi/examples/run.c $(pkg-config --cflags codex_sandbox) \
        "$(pkg-config --variable=libdir codex_sandbox)/libcodex_sandbox.a" -Wl,--as-needed $(pkg-config --static --libs codex_sandbox)
    # shellcheck disable=SC2046
    "$cc" "${cflags[@]}" -pthread -o "$bin/sandbox_test_static" tests/c/sandbox_test.c $(pkg-config --cflags codex_sandbox) \
        "$(pkg-config --variable=libdir codex_sandbox)/libcodex_sandbox.a" -Wl,--as-needed $(pkg-config --static --libs codex_sandbox)
    for static in "$bin/run_static" "$bin/sandbox_test_static"; do
        if readelf -d "$static" | grep -q 'libcodex_sandbox'; then
            fail "$static still needs libcodex_sandbox.so"
        fi
    done
    # The header as C++: syntax alone, then a program that calls through it.
    "$cxx" -x c++ -std=c++11 -Wall -Wextra -Werror -pedantic -fsyntax-only "$prefix/include/codex_sandbox.h"
    # shellcheck disable=SC2046
    "$cxx" -std=c++11 -Wall -Wextra -Werror -pedantic -o "$bin/header_test_cxx" tests/c/header_test.cpp \
        $(pkg-config --cflags --libs codex_sandbox) -Wl,-rpath,"$(pkg-config --variable=libdir codex_sandbox)"
else
    echo "SKIP: cargo-c is not installed (cargo install cargo-c --locked): the cargo-c install, its" \
        "dynamic/static link lines and the uid 65534 runs are not tested"
    summary+=("SKIP: cargo-c install (cargo-c missing)")
    if [ "${CODEX_SANDBOX_REQUIRE_ALL:-}" = 1 ]; then
        fail "CODEX_SANDBOX_REQUIRE_ALL=1 and cargo-c is missing"
    fi
fi

echo "== the in-place release build (target/release)"
cargo build --release --locked -p codex-sandbox-ffi
check_library "$target_dir/release/libcodex_sandbox.so"
# The README's in-place line:
"$cc" "${cflags[@]}" -Iinclude -o "$bin/run_in_place" ffi/examples/run.c \
    -L"$target_dir/release" -lcodex_sandbox -Wl,-rpath,"$target_dir/release"
chmod -R a+rX "$work"

# run LABEL COMMAND...: runs a test binary, records its closing line and adds up its counts.
run() {
    local label=$1
    shift
    echo "== $label"
    local log="$work/log.$RANDOM"
    set +e
    (cd "$work" && "$@") 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    set -e
    local last passed=0 failed=0
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1 || true)
    if [ -n "$last" ]; then
        passed=${last%% *}
        failed=${last#*, }
        failed=${failed%% *}
    else
        last="no result line"
    fi
    # A run that exits non-zero fails even when its own count says otherwise.
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=1
    fi
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    summary+=("$label: $last (exit $status)")
}

# example BINARY [AS...]: the README's example program, writing in the cwd and refused outside.
example() {
    local program=$1
    shift
    local as=("$@")
    local dir="$work/example"
    mkdir -p "$dir"
    chmod 0777 "$dir"
    local label="example $(basename "$program")${as[*]:+ as uid 65534}"
    echo "== $label"
    local out status
    set +e
    out=$(cd "$dir" && "${as[@]}" "$program" workspace-write /bin/sh -c 'echo hi > made-here; cat made-here; exit 3')
    status=$?
    set -e
    if [ "$status" -ne 3 ] || [ "$out" != "hi" ]; then
        fail "$label printed '$out', exit $status (expected hi, 3)"
        rm -rf "$dir"
        return
    fi
    set +e
    (cd "$dir" && "${as[@]}" "$program" read-only /bin/sh -c 'echo x > refused' 2>/dev/null)
    status=$?
    set -e
    if [ "$status" -eq 0 ] || [ -e "$dir/refused" ]; then
        fail "$label: a read-only sandbox wrote $dir/refused (exit $status)"
    else
        total_passed=$((total_passed + 1))
        summary+=("$label: ok")
    fi
    rm -rf "$dir"
}

example "$bin/run_in_place"
if [ "$installed" = 1 ]; then
    run "shared, uid $(id -u)" "$bin/sandbox_test_shared"
    run "static, uid $(id -u)" "$bin/sandbox_test_static"
    run "C++ header test, uid $(id -u)" "$bin/header_test_cxx"
    example "$bin/run"
    example "$bin/run_static"

    if [ "$(id -u)" = 0 ]; then
        drop=(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp)
        run "shared, uid 65534" "${drop[@]}" "$bin/sandbox_test_shared"
        run "static, uid 65534" "${drop[@]}" "$bin/sandbox_test_static"
        example "$bin/run" "${drop[@]}"
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
            fail "valgrind is not installed (pass --no-valgrind to skip it)"
        fi
    fi

    echo "== uninstall"
    ffi/install.sh --uninstall "$prefix"
    left=$(find "$prefix" -type f -o -type l)
    if [ -n "$left" ]; then
        fail "ffi/install.sh --uninstall left: $left"
    else
        total_passed=$((total_passed + 1))
        summary+=("uninstall: the prefix holds no file")
    fi
fi

echo "== summary"
printf '  %s\n' "${summary[@]}"
# The test binaries' own counts, plus one per example, install check or run that failed.
echo "C: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
