#!/usr/bin/env node
'use strict';
// Builds the addon with plain cargo and copies it to linux-sandbox.linux-<arch>-gnu.node at the
// package root. `node node/build.js [--release]`. The artifact path comes from cargo's JSON
// messages, so CARGO_TARGET_DIR and profiles are honoured.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const release = process.argv.includes('--release');
const args = ['build', '-p', 'codex-sandbox-node', '--message-format=json-render-diagnostics'];
if (release) args.push('--release');
const output = execFileSync('cargo', args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 << 20 });
let artifact;
for (const line of output.toString().split('\n')) {
  if (!line.startsWith('{')) continue;
  const message = JSON.parse(line);
  if (message.reason === 'compiler-artifact' && message.target.name === 'codex_sandbox_node') {
    artifact = message.filenames.find((file) => file.endsWith('.so'));
  }
}
if (!artifact) {
  console.error('node/build.js: cargo reported no libcodex_sandbox_node.so');
  process.exit(1);
}
const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
if (!arch) {
  console.error(`node/build.js: unsupported architecture ${process.arch}`);
  process.exit(1);
}
const destination = path.join(root, `linux-sandbox.linux-${arch}-gnu.node`);
// Copy to a temporary name and rename: a process that has the old addon loaded keeps it.
fs.copyFileSync(artifact, `${destination}.tmp`);
fs.renameSync(`${destination}.tmp`, destination);
console.log(`node/build.js: ${path.relative(root, artifact)} -> ${path.basename(destination)}`);
