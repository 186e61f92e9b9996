#!/bin/sh
# Builds the Node addon and runs the Node tests against it (including the packed-tarball
# installs in packaging.test.js and, as root, the uid-65534 rerun in nobody.test.js).
#   node/test.sh            debug build
#   node/test.sh --release  release build
# The addon under test stays under target/ (CODEX_SANDBOX_NODE_ADDON points at it): a test run
# never replaces ./linux-sandbox.linux-<arch>-<libc>.node, the release build `npm run build`
# makes, nor anything under npm/.
# With CI set, TypeScript (5.9.3 + @types/node, 3 packages) is installed into node/.cache so
# that package.test.js also runs `tsc --noEmit` over a typed example; otherwise that test skips.
set -eu
cd "$(dirname "$0")/.."

CODEX_SANDBOX_NODE_ADDON=$(node node/build.js "$@")
export CODEX_SANDBOX_NODE_ADDON

if [ -n "${CI:-}" ] && [ ! -e node/.cache/node_modules/typescript ]; then
    mkdir -p node/.cache
    [ -e node/.cache/package.json ] || echo '{"private":true}' > node/.cache/package.json
    (cd node/.cache && npm install --no-audit --no-fund --no-save typescript@5.9.3 @types/node@20 >/dev/null)
fi

# Explicit files: Node 20 treats a directory argument differently from Node 22.
exec node --test --test-reporter=spec \
    node/test/api.test.js \
    node/test/spawn.test.js \
    node/test/sandbox.test.js \
    node/test/concurrency.test.js \
    node/test/edges.test.js \
    node/test/errno.test.js \
    node/test/closed-stdio.test.js \
    node/test/hosts.test.js \
    node/test/metadata.test.js \
    node/test/landlock-hardening.test.js \
    node/test/profiles.test.js \
    node/test/unix-sockets.test.js \
    node/test/protected-names.test.js \
    node/test/limits.test.js \
    node/test/compat-events.test.js \
    node/test/compat-stdio.test.js \
    node/test/compat-ipc.test.js \
    node/test/compat-sync.test.js \
    node/test/compat-exec.test.js \
    node/test/compat-errors.test.js \
    node/test/compat-fds.test.js \
    node/test/node-suites.test.js \
    node/test/terminal.test.js \
    node/test/detached.test.js \
    node/test/ids.test.js \
    node/test/package.test.js \
    node/test/packaging.test.js \
    node/test/nobody.test.js
