'use strict';
// A Node host started with its stdin and stderr closed (Node reopens them on /dev/null) spawns a
// missing command: the failure arrives through 'error' as command-not-found, and nothing — no
// failure record of the sandbox's own — reaches the command's stderr pipe. Both pipelines.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const sandbox = require('@codex/linux-sandbox');

const HOST = `
const sandbox = require(${JSON.stringify(path.resolve(__dirname, '../..'))});
const results = [];
let pending = 0;
for (const pipeline of process.env.PIPELINES.split(',')) {
  pending++;
  const child = sandbox.spawn('no-such-command-codex-node-test', [], { pipeline, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } });
  const stderr = [];
  child.stderr && child.stderr.on('data', (chunk) => stderr.push(chunk));
  let code;
  child.on('error', (error) => { code = error.code; });
  child.on('close', () => {
    results.push({ pipeline, code, stderr: Buffer.concat(stderr).toString('hex') });
    if (--pending === 0) process.stdout.write(JSON.stringify(results));
  });
}
`;

test('a host with stdin and stderr closed gets command-not-found and a clean stderr', () => {
  const pipelines = ['landlock'];
  if (sandbox.probe().namespaces.available) pipelines.push('bwrap');
  else if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') assert.fail('the bwrap pipeline is unavailable here');
  const result = spawnSync('/bin/sh', ['-c', 'exec "$0" -e "$1" 0<&- 2>&-', process.execPath, HOST], {
    encoding: 'utf8',
    env: { ...process.env, PIPELINES: pipelines.join(',') },
    timeout: 30_000,
  });
  assert.equal(result.status, 0, result.stdout);
  const reports = JSON.parse(result.stdout);
  assert.equal(reports.length, pipelines.length);
  for (const report of reports) {
    assert.match(report.code, /NOT_FOUND|ENOENT/, JSON.stringify(report));
    assert.equal(report.stderr, '', `${report.pipeline}: the command's stderr got ${report.stderr}`);
  }
});
