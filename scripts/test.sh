#!/usr/bin/env bash
# Runs every check and test of the repository. This is the README's test command, and what
# .ci/run calls after installing what a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")/.."

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
echo "== C tests (install under a prefix, .so and .a, root and uid 65534, valgrind)"
tests/c/run.sh
