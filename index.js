'use strict';
// @codex/linux-sandbox: loads the native addon and hands it to the JS layer in node/lib.
// node/lib/loader.js finds the addon (CODEX_SANDBOX_NODE_ADDON, a local build, or the
// @codex/linux-sandbox-linux-<arch>-<libc> package).
const { loadAddon } = require('./node/lib/loader.js');

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
