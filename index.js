'use strict';
// @codex/linux-sandbox: loads the native addon and hands it to the JS layer in node/lib.
// node/lib/loader.js finds the addon (CODEX_SANDBOX_NODE_ADDON, a local build, or the
// @codex/linux-sandbox-linux-<arch>-<libc> package).
const { loadAddon } = require('./node/lib/loader.js');

module.exports = require('./node/lib/sandbox.js')(loadAddon());
