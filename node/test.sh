#!/bin/sh
# Builds the Node addon, copies it into place and runs the Node tests (including the packed-
# tarball install check in package.test.js and, as root, the uid-65534 rerun in nobody.test.js).
#   node/test.sh            debug build
#   node/test.sh --release  release build
# With CI set, TypeScript (5.9.3 + @types/node, 3 packages) is installed into node/.cache so
# that package.test.js also runs `tsc --noEmit` over a typed example; otherwise that test skips.
set -eu
cd "$(dirname "$0")/.."

node node/build.js "$@"

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
    node/test/compat-events.test.js \
    node/test/compat-stdio.test.js \
    node/test/compat-sync.test.js \
    node/test/compat-exec.test.js \
    node/test/compat-errors.test.js \
    node/test/compat-fds.test.js \
    node/test/package.test.js \
    node/test/nobody.test.js
