#!/usr/bin/env bash
# Runs every check and test of the repository. This is the README's test command, and what
# .ci/run calls after installing what a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
# What git sees as changed or untracked now; the tests must leave it so (nothing in the checkout).
checkout_before=$(git status --porcelain 2>/dev/null || true)

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test (includes the escape suite, cli/tests/escape.rs: its table ends in 'N passed, N failed',"
echo "   and the fuzz smoke run, cli/tests/fuzz_smoke.rs)"
cargo test --workspace --locked
echo "== panic containment (core built with the fault-injection feature)"
cargo test -p codex-sandbox-core --locked --features fault-injection --test panic_containment
if [ -n "${CODEX_SANDBOX_FUZZ_SECONDS:-}" ]; then
    # Optional: the libFuzzer targets themselves (needs nightly and cargo-fuzz), for this many
    # seconds each. docs/security.md describes the long run.
    echo "== cargo fuzz (${CODEX_SANDBOX_FUZZ_SECONDS}s per target)"
    for target in policy_json proxy_environment c_request; do
        (cd fuzz && cargo +nightly fuzz run "$target" corpus/"$target" -- \
            -max_total_time="$CODEX_SANDBOX_FUZZ_SECONDS")
    done
fi
echo "== Node tests (addon, package, packed tarball, root and uid 65534)"
sh node/test.sh
echo "== cargo package (every crate packs: versions on path dependencies, metadata)"
cargo package --workspace --no-verify --allow-dirty --locked --quiet
echo "== C tests (cargo-c install, .so and .a, in place, C++, root and uid 65534, valgrind)"
tests/c/run.sh
echo "== cross builds (x86_64 musl, aarch64 glibc and musl under qemu) and their smoke tests"
# The bounded part of scripts/release.sh (13 min cold on 2 cores shared with five other builds;
# the musl runtime it fetches is reused from target/): every target but the
# host's own (whose addon and C library the Node and C tests above build and run); the npm
# packing runs only in a release (scripts/release.sh).
scripts/release.sh --check --targets x86_64-unknown-linux-musl,aarch64-unknown-linux-gnu,aarch64-unknown-linux-musl
echo "== nothing left in the checkout"
checkout_after=$(git status --porcelain 2>/dev/null || true)
if [ "$checkout_before" != "$checkout_after" ]; then
    echo "FAIL: the tests changed the checkout:" >&2
    diff <(echo "$checkout_before") <(echo "$checkout_after") >&2 || true
    exit 1
fi
