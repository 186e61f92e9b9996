'use strict';
// `detached: true`: the command outlives the Node process that spawned it (as with
// child_process) and stays sandboxed after that process is gone; without `detached` it ends
// with that process (the sandbox's parent-death signal).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const sandbox = require('@codex/linux-sandbox');
const { tempDir } = require('./helpers.js');

const root = path.join(__dirname, '..', '..');
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Spawns `script` from a Node process that exits at once; returns that process's output. */
function spawnAndExit(options, script) {
  const source = `const cp = require(${JSON.stringify(root)});
    const child = cp.spawn('/bin/sh', ['-c', ${JSON.stringify(script)}], ${JSON.stringify({ stdio: 'ignore', ...options })});
    child.unref();
    child.on('spawn', () => console.log('spawned'));`;
  return spawnSync(process.execPath, ['-e', source], { encoding: 'utf8', timeout: 60000 });
}

async function waitFor(file, ms) {
  for (let waited = 0; waited < ms; waited += 50) {
    if (fs.existsSync(file)) return true;
    await delay(50);
  }
  return false;
}

const pipelines = () => {
  const host = sandbox.probe();
  return [['landlock', host.landlock.available], ['bwrap', host.namespaces.available]].filter(([, ok]) => ok).map(([p]) => p);
};

test('a detached command outlives its parent and stays sandboxed', async (t) => {
  for (const pipeline of pipelines()) {
    const dir = tempDir('codex-sandbox-detached-');
    const outside = `/etc/codex-detached-probe-${process.pid}-${pipeline}`;
    // After the parent has gone: prove it runs (a marker in the workspace) and that writing
    // outside the workspace is still refused.
    const script = `sleep 1; if echo x > ${outside}; then echo wrote > result; else echo refused > result; fi; echo done > marker`;
    const out = spawnAndExit({ detached: true, pipeline, policy: 'workspace-write', policyCwd: dir, cwd: dir }, script);
    assert.equal(out.stdout, 'spawned\n', out.stderr);
    assert.ok(await waitFor(path.join(dir, 'marker'), 15000), `${pipeline}: the detached command did not outlive its parent`);
    assert.equal(fs.readFileSync(path.join(dir, 'result'), 'utf8'), 'refused\n');
    assert.equal(fs.existsSync(outside), false, `${outside} was created`);
    t.diagnostic(`${pipeline}: ran after its parent exited, outside write refused`);
  }
});

test('without detached the command ends with its parent', async (t) => {
  for (const pipeline of pipelines()) {
    const dir = tempDir('codex-sandbox-attached-');
    const out = spawnAndExit({ pipeline, policy: 'workspace-write', policyCwd: dir, cwd: dir }, 'sleep 1; echo done > marker');
    assert.equal(out.stdout, 'spawned\n', out.stderr);
    assert.equal(await waitFor(path.join(dir, 'marker'), 3000), false, `${pipeline}: the command outlived its parent`);
    t.diagnostic(`${pipeline}: ended with its parent`);
  }
});
