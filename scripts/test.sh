#!/usr/bin/env bash
# Runs every check and test of the repository. This is the README's test command, and what
# .ci/run calls after installing what a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== panic containment (core built with the fault-injection feature)"
cargo test -p codex-sandbox-core --locked --features fault-injection --test panic_containment
echo "== Node tests (addon, package, packed tarball, root and uid 65534)"
sh node/test.sh
echo "== C tests (install under a prefix, .so and .a, root and uid 65534, valgrind)"
tests/c/run.sh
