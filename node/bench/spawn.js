#!/usr/bin/env node
'use strict';
// Spawn cost against child_process.spawn('/bin/true'), interleaved in one run so that machine
// noise hits every column alike. Two numbers per implementation:
//   spawn()  the synchronous part of spawn(): how long the event loop is blocked
//   exit     spawn() until 'exit'
// and their medians' ratios to child_process's.
//   node node/bench/spawn.js [rounds=200] [--policy=read-only]
const childProcess = require('node:child_process');
const path = require('node:path');
const sandbox = require(path.join(__dirname, '..', '..'));

const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 200);
const policy = (process.argv.find((a) => a.startsWith('--policy=')) ?? '--policy=read-only').slice(9);

const host = sandbox.probe();
const columns = [['child_process', (cb) => childProcess.spawn('/bin/true', [], { stdio: 'ignore' }).on('exit', cb)]];
if (host.landlock.available) {
  columns.push(['landlock', (cb) => sandbox.spawn('/bin/true', [], { stdio: 'ignore', policy, pipeline: 'landlock' }).on('exit', cb)]);
}
if (host.namespaces.available) {
  columns.push(['bwrap', (cb) => sandbox.spawn('/bin/true', [], { stdio: 'ignore', policy, pipeline: 'bwrap' }).on('exit', cb)]);
}

function once(start) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let t1;
    const child = start((code) => {
      const t2 = process.hrtime.bigint();
      if (code !== 0) reject(new Error(`exit code ${code}`));
      else resolve({ sync: Number(t1 - t0) / 1e6, exit: Number(t2 - t0) / 1e6 });
    });
    t1 = process.hrtime.bigint();
    child.on('error', reject);
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

async function main() {
  const samples = Object.fromEntries(columns.map(([name]) => [name, { sync: [], exit: [] }]));
  for (let i = 0; i < 10; i++) for (const [, start] of columns) await once(start); // warm-up
  for (let i = 0; i < rounds; i++) {
    for (const [name, start] of columns) {
      const { sync, exit } = await once(start);
      samples[name].sync.push(sync);
      samples[name].exit.push(exit);
    }
  }
  const base = { sync: median(samples.child_process.sync), exit: median(samples.child_process.exit) };
  console.log(`${rounds} interleaved rounds, policy ${policy}, node ${process.version}, kernel ${host.kernel}`);
  console.log('implementation   spawn() median   ratio   spawn-to-exit median   ratio');
  for (const [name] of columns) {
    const sync = median(samples[name].sync);
    const exit = median(samples[name].exit);
    console.log(
      `${name.padEnd(15)}  ${sync.toFixed(2).padStart(10)} ms  ${(sync / base.sync).toFixed(2).padStart(5)}x  ${exit.toFixed(2).padStart(16)} ms  ${(exit / base.exit).toFixed(2).padStart(6)}x`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
