'use strict';
// @codex/linux-sandbox: loads the native addon and hands it to the JS layer in node/lib.
// CODEX_SANDBOX_NODE_ADDON=/path/to/addon.node overrides the addon that is loaded.
const path = require('node:path');

function loadAddon() {
  if (process.platform !== 'linux') {
    const error = new Error(`@codex/linux-sandbox supports Linux only; this is ${process.platform}`);
    error.code = 'ERR_SANDBOX_UNSUPPORTED';
    throw error;
  }
  const override = process.env.CODEX_SANDBOX_NODE_ADDON;
  const file = override ? path.resolve(override) : path.join(__dirname, `linux-sandbox.linux-${process.arch}-gnu.node`);
  try {
    return require(file);
  } catch (cause) {
    const error = new Error(`@codex/linux-sandbox: cannot load the native addon ${file}: ${cause.message}`, { cause });
    error.code = 'ERR_SANDBOX_ADDON_LOAD';
    throw error;
  }
}

const {
  spawn,
  spawnSync,
  exec,
  execFile,
  execSync,
  execFileSync,
  fork,
  run,
  explain,
  probe,
  seatbeltPolicy,
  proxyEndpoints,
  proxyEnv,
  SandboxedChild,
  ChildProcess,
  version,
} = require('./node/lib/sandbox.js')(loadAddon());

// One object literal of plain names, so that Node's CommonJS lexer sees every export and
// `import { spawn } from '@codex/linux-sandbox'` works from ES modules.
module.exports = {
  spawn,
  spawnSync,
  exec,
  execFile,
  execSync,
  execFileSync,
  fork,
  run,
  explain,
  probe,
  seatbeltPolicy,
  proxyEndpoints,
  proxyEnv,
  SandboxedChild,
  ChildProcess,
  version,
};
