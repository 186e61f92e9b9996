'use strict';
// Waiting for children occupies no libuv pool thread, and nothing keeps the loop alive after
// the children are gone.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const sandbox = require('@codex/linux-sandbox');
const { tempDir } = require('./helpers.js');

test('64 concurrent children do not starve fs calls', async () => {
  const children = [];
  let firstExit = Infinity;
  for (let i = 0; i < 64; i++) {
    const child = sandbox.spawn('sleep', ['3'], { stdio: 'ignore' });
    children.push(
      new Promise((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code) => {
          firstExit = Math.min(firstExit, Date.now());
          resolve(code);
        });
      }),
    );
  }
  // The libuv pool has 4 threads by default: if each child held one, these reads would
  // wait for the sleeps to end.
  const started = Date.now();
  for (let i = 0; i < 40; i++) await fs.promises.readFile(__filename);
  const readsDone = Date.now();
  assert.ok(readsDone - started < 1500, `40 readFile calls took ${readsDone - started} ms`);
  assert.ok(readsDone < firstExit, 'the reads finished while every child was still running');
  assert.deepEqual(await Promise.all(children), new Array(64).fill(0));
});

test('the process exits by itself once its children are done', () => {
  const dir = tempDir();
  const script = path.join(dir, 'script.js');
  fs.writeFileSync(
    script,
    `
    const sandbox = require(${JSON.stringify(path.join(__dirname, '..', '..'))});
    const echo = sandbox.spawn('echo', ['hi']);
    echo.stdout.on('data', () => {});
    echo.on('close', (code) => console.log('closed', code));
    sandbox.run('cat', [], { input: 'x' }).then((r) => console.log('ran', r.stdout));
    const sleeper = sandbox.spawn('sleep', ['30']);
    sleeper.on('exit', (code, signal) => console.log('killed', signal));
    setTimeout(() => sleeper.kill(), 100);
    // An unref()ed child does not hold the loop (it dies with its parent).
    sandbox.spawn('sleep', ['30'], { stdio: 'ignore' }).unref();
    `,
  );
  const started = Date.now();
  const result = spawnSync(process.execPath, [script], {
    encoding: 'utf8',
    timeout: 20000,
    cwd: dir,
  });
  assert.equal(result.error, undefined, `the script did not exit: ${result.error}`);
  assert.equal(result.status, 0, result.stderr);
  assert.ok(Date.now() - started < 10000);
  assert.match(result.stdout, /closed 0/);
  assert.match(result.stdout, /ran x/);
  assert.match(result.stdout, /killed SIGTERM/);
});
