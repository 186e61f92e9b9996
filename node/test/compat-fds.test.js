'use strict';
// child_process vs sandbox: per-child resources are released when the child is reaped, not
// when the garbage collector gets to it. 3000 sequential spawns under `ulimit -n 256`, each
// with three pipes, in a fresh Node process started through `sh -c 'ulimit -n 256; exec node'`.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { compare, childProcess } = require('./compat.js');
const { tempDir } = require('./helpers.js');

const root = path.join(__dirname, '..', '..');
const SPAWNS = 3000;

function script(module, options) {
  return `
    const cp = require(${JSON.stringify(module)});
    const fs = require('node:fs');
    const options = ${JSON.stringify(options)};
    let peak = 0;
    let i = 0;
    function next() {
      if (i === ${SPAWNS}) {
        console.log(JSON.stringify({ spawned: i, peakOpenFds: peak, limitedTo256: peak < 256 }));
        return;
      }
      i++;
      const child = cp.spawn('true', [], options);
      child.on('error', (error) => {
        console.log(JSON.stringify({ failedAt: i, code: error.code, message: error.message }));
        process.exit(1);
      });
      child.stdout.resume();
      child.stderr.resume();
      child.on('close', (code) => {
        if (code !== 0) {
          console.log(JSON.stringify({ failedAt: i, code }));
          process.exit(1);
        }
        if (i % 100 === 0) peak = Math.max(peak, fs.readdirSync('/proc/self/fd').length);
        setImmediate(next);
      });
    }
    next();`;
}

test(`${SPAWNS} sequential spawns under ulimit -n 256`, { timeout: 600000 }, async (t) => {
  const dir = tempDir();
  await compare(t, [
    ['3000 spawns', async (cp, implName) => {
      const module = implName === 'child_process' ? 'node:child_process' : root;
      const options = ['landlock', 'bwrap'].includes(implName) ? { pipeline: implName } : {};
      const file = path.join(dir, `spawns-${implName}.js`);
      fs.writeFileSync(file, script(module, options));
      const result = childProcess.spawnSync('/bin/sh', ['-c', 'ulimit -n 256 && exec "$0" "$1"', process.execPath, file], {
        encoding: 'utf8',
        timeout: 300000,
      });
      assert.equal(result.stderr, '', `${implName}: ${result.stderr}`);
      const report = JSON.parse(result.stdout.trim());
      // The peak itself differs (the sandbox holds an epoll and an eventfd); what must hold is
      // that it stays bounded.
      return { spawned: report.spawned, failedAt: report.failedAt, limitedTo256: report.limitedTo256, peakBelow64: report.peakOpenFds < 64 };
    }],
  ]);
});
