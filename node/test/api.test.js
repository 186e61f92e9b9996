'use strict';
// The package surface: self-reference, exports vs index.d.ts, invalid input, data functions.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const sandbox = require('@codex/linux-sandbox');
const pkg = require('@codex/linux-sandbox/package.json');

const root = path.join(__dirname, '..', '..');

test('self-reference loads the package through its exports map', () => {
  assert.equal(typeof sandbox.spawn, 'function');
  assert.equal(sandbox.version, pkg.version);
  assert.equal(require.resolve('@codex/linux-sandbox'), path.join(root, 'index.js'));
});

test('index.d.ts declares every export of index.js, and nothing else', () => {
  const dts = fs.readFileSync(path.join(root, 'index.d.ts'), 'utf8');
  const declared = new Set([...dts.matchAll(/^export declare (?:function|const|class) (\w+)/gm)].map((m) => m[1]));
  assert.deepEqual([...declared].sort(), Object.keys(sandbox).sort());
});

test('CODEX_SANDBOX_NODE_ADDON overrides the addon path', () => {
  const { spawnSync } = require('node:child_process');
  const result = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(root)})`], {
    env: { ...process.env, CODEX_SANDBOX_NODE_ADDON: '/nonexistent/addon.node' },
    encoding: 'utf8',
  });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /ERR_SANDBOX_ADDON_LOAD/);
  assert.match(result.stderr, /\/nonexistent\/addon\.node/);
});

test('invalid input throws synchronously with a stable code', () => {
  const cases = [
    // Node's own validation errors, for Node's own options.
    [() => sandbox.spawn(''), 'ERR_INVALID_ARG_VALUE', TypeError],
    [() => sandbox.spawn(42), 'ERR_INVALID_ARG_TYPE', TypeError],
    [() => sandbox.spawn('echo', [], { stdio: 'bogus' }), 'ERR_INVALID_ARG_VALUE', TypeError],
    [() => sandbox.spawn('echo', [], { timeout: -1 }), 'ERR_OUT_OF_RANGE', RangeError],
    [() => sandbox.spawn('echo', [], { killSignal: 'SIGNOPE' }), 'ERR_UNKNOWN_SIGNAL', TypeError],
    [() => sandbox.spawn('echo', [], { signal: {} }), 'ERR_INVALID_ARG_TYPE', TypeError],
    [() => sandbox.spawn('echo', ['a\0b']), 'ERR_INVALID_ARG_VALUE', TypeError],
    // The sandbox's.
    [() => sandbox.spawn('echo', [], { shel: true }), 'ERR_SANDBOX_INVALID_ARGUMENT'],
    [() => sandbox.spawn('echo', [], { polcy: 'danger-full-access' }), 'ERR_SANDBOX_INVALID_ARGUMENT'],
    [() => sandbox.spawn('echo', [], { pipeline: 'chroot' }), 'ERR_SANDBOX_INVALID_ARGUMENT'],
    [() => sandbox.spawn('echo', [], { network: 'some' }), 'ERR_SANDBOX_INVALID_ARGUMENT'],
    [() => sandbox.spawn('echo', [], { env: { '': 'c' } }), 'ERR_SANDBOX_INVALID_ARGUMENT'],
    [() => sandbox.spawn('echo', [], { policy: 'bogus' }), 'ERR_SANDBOX_INVALID_POLICY'],
    [() => sandbox.spawn('echo', [], { policy: 7 }), 'ERR_SANDBOX_INVALID_POLICY'],
    [() => sandbox.spawn('echo', [], { policy: { type: 'read-only', nope: 1 } }), 'ERR_SANDBOX_INVALID_POLICY'],
    [() => sandbox.spawn('echo', [], { policy: '{"type":' }), 'ERR_SANDBOX_INVALID_POLICY'],
    [() => sandbox.spawn('echo', [], { policy: 'danger-full-access', network: 'restricted' }), 'ERR_SANDBOX_INVALID_ARGUMENT'],
    [() => sandbox.spawn('echo', [], { network: 'proxy', env: { PATH: process.env.PATH } }), 'ERR_SANDBOX_INVALID_ARGUMENT'],
    [() => sandbox.explain('echo', [], { policy: 'nope' }), 'ERR_SANDBOX_INVALID_POLICY'],
    [() => sandbox.proxyEnv({}, { http: 'localhost' }), 'ERR_SANDBOX_INVALID_ARGUMENT'],
    [() => sandbox.execFile('echo', [], { timout: 5 }), 'ERR_SANDBOX_INVALID_ARGUMENT'],
    [() => sandbox.spawnSync('echo', [], { inpt: 'x' }), 'ERR_SANDBOX_INVALID_ARGUMENT'],
  ];
  for (const [fn, code, type = Error] of cases) {
    assert.throws(fn, (error) => error instanceof type && error.code === code, `${fn} should throw ${code}`);
  }
});

test('run() rejects invalid input instead of throwing', async () => {
  const promise = sandbox.run('echo', [], { policy: 'bogus' });
  await assert.rejects(promise, { code: 'ERR_SANDBOX_INVALID_POLICY' });
  await assert.rejects(sandbox.run('echo', [], { maxBuffer: -1 }), { code: 'ERR_SANDBOX_INVALID_ARGUMENT' });
  await assert.rejects(sandbox.run(''), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(sandbox.run('echo', [], { encoding: 'klingon' }), { code: 'ERR_SANDBOX_INVALID_ARGUMENT' });
});

test('explain() returns the plan without running anything', () => {
  const plan = sandbox.explain('echo', ['hi'], { policy: 'read-only' });
  assert.deepEqual(plan.process.argv, ['echo', 'hi']);
  assert.equal(plan.process.cwd, fs.realpathSync(process.cwd()));
  assert.ok(['bwrap', 'landlock'].includes(plan.pipeline));
  assert.equal(plan.network, 'restricted');
  assert.equal(sandbox.explain('echo', { policy: 'read-only', network: 'full' }).network, 'full');
  assert.equal(sandbox.explain('echo', { policy: 'danger-full-access' }).pipeline, 'unsandboxed');
  assert.equal(sandbox.explain('echo', { pipeline: 'landlock' }).pipeline, 'landlock');
});

test('probe() describes the host', () => {
  const host = sandbox.probe();
  assert.equal(typeof host.kernel, 'string');
  assert.equal(host.uid, process.getuid());
  assert.ok(['bwrap', 'landlock'].includes(host.auto_pipeline));
});

test('seatbeltPolicy() generates a sandbox-exec invocation', () => {
  const command = sandbox.seatbeltPolicy('echo', ['hi'], { policy: 'workspace-write', cwd: '/tmp' });
  assert.equal(command.program, '/usr/bin/sandbox-exec');
  assert.equal(command.args[0], '-p');
  assert.match(command.args[1], /\(deny default\)/);
  assert.deepEqual(command.args.slice(-3), ['--', 'echo', 'hi']);
  assert.equal(command.env.CODEX_SANDBOX_NETWORK_DISABLED, '1');
});

test('proxyEndpoints() and proxyEnv()', () => {
  const found = sandbox.proxyEndpoints({ HTTPS_PROXY: 'http://127.0.0.1:3128', HTTP_PROXY: 'http://example.com:80' });
  assert.equal(found.config_present, true);
  assert.deepEqual(found.endpoints, [{ variable: 'HTTPS_PROXY', addr: '127.0.0.1:3128' }]);
  assert.equal(found.diagnostics[0].variable, 'HTTP_PROXY');
  const env = sandbox.proxyEnv({ PATH: '/bin', http_proxy: 'http://stale:1' }, { http: '127.0.0.1:3128' });
  assert.equal(env.PATH, '/bin');
  assert.equal(env.HTTPS_PROXY, 'http://127.0.0.1:3128');
  assert.equal(env.http_proxy, 'http://127.0.0.1:3128');
  assert.deepEqual(sandbox.proxyEndpoints(env).diagnostics, []);
});
