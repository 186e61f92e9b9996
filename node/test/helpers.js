'use strict';
// Shared by the tests; no dependencies beyond Node itself.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const created = [];
// Scratch directories go when the test file's process does, whatever the outcome.
process.on('exit', () => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/** A world-readable scratch directory under the system temp dir, removed at exit. */
function tempDir(prefix = 'codex-sandbox-node-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  created.push(dir);
  return dir;
}

/** Resolves with [arg0, arg1, ...] of the first `event` emitted, rejects on 'error'. */
function once(emitter, event) {
  return new Promise((resolve, reject) => {
    const onError = (error) => {
      emitter.removeListener(event, onEvent);
      reject(error);
    };
    const onEvent = (...args) => {
      if (event !== 'error') emitter.removeListener('error', onError);
      resolve(args);
    };
    emitter.once(event, onEvent);
    if (event !== 'error') emitter.once('error', onError);
  });
}

/** A node -e script, run inside the sandbox, that prints one word about what happened. */
const NODE = process.execPath;

module.exports = { tempDir, once, NODE };
