'use strict';
// The behavioural tests again, as uid/gid 65534 (nobody), from a world-readable copy of the
// package under /tmp (the repository may sit under /root, which nobody cannot enter).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tempDir } = require('./helpers.js');

const root = path.join(__dirname, '..', '..');
const TESTS = [
  'spawn.test.js',
  'sandbox.test.js',
  'concurrency.test.js',
  'compat-events.test.js',
  'compat-stdio.test.js',
  'compat-sync.test.js',
  'compat-exec.test.js',
  'compat-errors.test.js',
  'compat-fds.test.js',
  'profiles.test.js',
  'unix-sockets.test.js',
  'protected-names.test.js',
  'limits.test.js',
  'errno.test.js',
  'closed-stdio.test.js',
  'metadata.test.js',
  'landlock-hardening.test.js',
  'node-suites.test.js',
  'terminal.test.js',
  'detached.test.js',
  'ids.test.js',
];

function skipReason() {
  if (process.getuid() !== 0) return 'needs root to switch to uid 65534';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv is not installed';
  const probe = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', '0']);
  if (probe.status !== 0) return `uid 65534 cannot run ${process.execPath}`;
  return null;
}

test('behavioural tests pass as uid 65534', { timeout: 700000 }, (t) => {
  const reason = skipReason();
  if (reason) {
    t.skip(reason);
    return;
  }
  const copy = tempDir('codex-sandbox-nobody-');
  const addonName = `linux-sandbox.linux-${process.arch}-gnu.node`;
  const addon = process.env.CODEX_SANDBOX_NODE_ADDON
    ? path.resolve(process.env.CODEX_SANDBOX_NODE_ADDON)
    : path.join(root, addonName);
  for (const file of ['package.json', 'index.js', 'index.mjs', 'index.d.ts']) fs.copyFileSync(path.join(root, file), path.join(copy, file));
  fs.copyFileSync(addon, path.join(copy, addonName));
  for (const dir of ['node/lib', 'node/test/node-suite']) fs.mkdirSync(path.join(copy, dir), { recursive: true });
  for (const file of fs.readdirSync(path.join(root, 'node/lib'))) {
    fs.copyFileSync(path.join(root, 'node/lib', file), path.join(copy, 'node/lib', file));
  }
  for (const file of ['helpers.js', 'compat.js', 'node-suite.js', ...TESTS]) {
    fs.copyFileSync(path.join(__dirname, file), path.join(copy, 'node/test', file));
  }
  for (const file of fs.readdirSync(path.join(__dirname, 'node-suite'))) {
    fs.copyFileSync(path.join(__dirname, 'node-suite', file), path.join(copy, 'node/test/node-suite', file));
  }
  for (const entry of fs.readdirSync(copy, { recursive: true })) fs.chmodSync(path.join(copy, entry), fs.statSync(path.join(copy, entry)).isDirectory() ? 0o755 : 0o644);

  // root's PATH may name directories under /root, which uid 65534 cannot search (execvp then
  // says EACCES, not ENOENT, for a missing command, with child_process as with the sandbox).
  const searchable = (process.env.PATH ?? '').split(':').filter((dir) => dir && !dir.startsWith('/root'));
  const env = { ...process.env, HOME: copy, TMPDIR: '/tmp', PATH: searchable.join(':') || '/usr/bin:/bin' };
  delete env.CODEX_SANDBOX_NODE_ADDON;
  delete env.NODE_TEST_CONTEXT; // run as a top-level test runner, not as a child of this one
  const result = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--test', ...TESTS.map((f) => `node/test/${f}`)],
    { cwd: copy, env, encoding: 'utf8', timeout: 600000 },
  );
  const summary = result.stdout.split('\n').filter((line) => /^# (tests|pass|fail|skipped|cancelled) /.test(line));
  t.diagnostic(`as uid 65534: ${summary.join(', ').replace(/# /g, '')}`);
  for (const line of result.stdout.split('\n').filter((l) => /^ok |^not ok /.test(l))) t.diagnostic(line);
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  assert.ok(summary.some((line) => /^# pass [1-9]/.test(line)));
  assert.ok(summary.includes('# fail 0'));
});
