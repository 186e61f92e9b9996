'use strict';
// A host that cannot enforce a pipeline is one classification in Node, as in the CLI: nested in
// `bwrap --disable-userns` (no user namespace may be created from there) an explicit bwrap
// pipeline is ERR_SANDBOX_UNSUPPORTED with the failing check and its errno — the same check the
// CLI names — and `auto` falls back to Landlock and runs.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const BWRAP = '/usr/bin/bwrap';
const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'target/debug/codex-linux-sandbox');

const HOST = `
const sandbox = require(${JSON.stringify(ROOT)});
const report = {};
try {
  sandbox.spawn('true', [], { pipeline: 'bwrap', stdio: 'ignore' });
  report.bwrap = 'ran';
} catch (error) {
  report.bwrap = { code: error.code, errno: error.errno, errnoCode: error.errnoCode, check: error.check };
}
report.auto = sandbox.explain('true', [], {}).pipeline;
const child = sandbox.spawn('true', [], { stdio: 'ignore' });
child.on('exit', (code) => { report.autoExit = code; process.stdout.write(JSON.stringify(report)); });
`;

function nested(argv) {
  return spawnSync(BWRAP, ['--unshare-user', '--disable-userns', '--dev-bind', '/', '/', '--', ...argv], {
    encoding: 'utf8',
    timeout: 30_000,
  });
}

test('Node and the CLI refuse a pipeline the host cannot enforce in the same words', (t) => {
  for (const needed of [BWRAP, CLI]) {
    if (!fs.existsSync(needed)) {
      if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') assert.fail(`${needed} is missing`);
      return t.skip(`${needed} is missing`);
    }
  }
  const node = nested([process.execPath, '-e', HOST]);
  assert.equal(node.status, 0, node.stderr);
  const report = JSON.parse(node.stdout);
  assert.equal(report.bwrap.code, 'ERR_SANDBOX_UNSUPPORTED', JSON.stringify(report));
  assert.equal(report.bwrap.errnoCode, 'ENOSPC', JSON.stringify(report));
  assert.ok(report.bwrap.check && report.bwrap.check.includes('CLONE_NEWUSER'), JSON.stringify(report));
  assert.equal(report.auto, 'landlock');
  assert.equal(report.autoExit, 0);

  const cli = nested([CLI, '--pipeline', 'bwrap', '--', '/bin/true']);
  assert.equal(cli.status, 125, cli.stderr);
  assert.ok(cli.stderr.includes(report.bwrap.check), `the CLI names another check: ${cli.stderr}`);
});
