'use strict';
// Codex's current policy model through Node: a permission profile object as `policy` (the shape
// today's Codex passes its helper), deny-read entries, `network: { managed }`, and the process
// budget. Asserted on the host: files untouched, the exact errno, a listener that got nothing.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const sandbox = require('@codex/linux-sandbox');
const { tempDir, NODE } = require('./helpers.js');

const PIPELINES = sandbox.probe().namespaces.available ? ['bwrap', 'landlock'] : ['landlock'];
const special = (kind, access) => ({ path: { type: 'special', value: { kind } }, access });
const literal = (p, access, extra = {}) => ({ path: { type: 'path', path: p }, access, ...extra });
const profile = (entries, network = 'restricted') => ({ type: 'managed', file_system: { type: 'restricted', entries }, network });

/** Codex 0.171's workspace-write profile for workspace `w`. */
const workspaceWrite = (w) =>
  profile([
    special('root', 'read'),
    literal(w, 'write'),
    ...['.git', '.agents', '.codex', '.aws'].map((name) => literal(path.join(w, name), 'read', { missing_path_behavior: 'skip' })),
  ]);

async function inSandbox(script, options) {
  const result = await sandbox.run(NODE, ['-e', script], options);
  assert.equal(result.code, 0, `sandboxed node failed: ${result.stderr}`);
  return result.stdout.trim().split('\n');
}

const attempts = (ops) =>
  `const fs = require('fs'); for (const [op, file] of ${JSON.stringify(ops)}) {` +
  ` try { op === 'write' ? fs.writeFileSync(file, 'pwned') : op === 'mkdir' ? fs.mkdirSync(file) : fs.readFileSync(file, 'utf8'); console.log('OK') }` +
  ` catch (e) { console.log(e.code) } }`;

for (const pipeline of PIPELINES) {
  test(`${pipeline}: Codex's workspace-write profile: the workspace is writable, .git and .aws are not, /etc is not`, async () => {
    const w = fs.realpathSync(tempDir('profile-ws-'));
    fs.mkdirSync(path.join(w, '.git'));
    fs.writeFileSync(path.join(w, '.git', 'config'), '[core]\n');
    const outside = path.join(tempDir('profile-out-'), 'outside.txt');
    fs.writeFileSync(outside, 'original');
    const results = await inSandbox(
      attempts([['write', path.join(w, 'inside.txt')], ['write', path.join(w, '.git', 'config')], ['mkdir', path.join(w, '.aws')], ['write', outside]]),
      { policy: workspaceWrite(w), policyCwd: w, cwd: w, pipeline },
    );
    // Protected paths are read-only binds on both pipelines (EROFS); outside the roots Landlock
    // refuses (EACCES) where the namespace pipeline's read-only view does first (EROFS).
    // (With user namespaces the landlock pipeline has the read-only view too.)
    const outsideRefused = pipeline === 'landlock' && !sandbox.probe().namespaces.available ? 'EACCES' : 'EROFS';
    assert.deepEqual(results, ['OK', 'EROFS', 'EEXIST', outsideRefused]);
    assert.equal(fs.readFileSync(path.join(w, '.git', 'config'), 'utf8'), '[core]\n');
    assert.equal(fs.readFileSync(outside, 'utf8'), 'original');
    assert.equal(fs.existsSync(path.join(w, '.aws')), false, 'the placeholder is gone after the run');
  });
}

test('bwrap: deny-read entries hide a secret while the rest stays readable; landlock refuses the run', async (t) => {
  const w = fs.realpathSync(tempDir('profile-deny-'));
  fs.mkdirSync(path.join(w, 'private'));
  fs.writeFileSync(path.join(w, 'private', 'key.txt'), 'the-key');
  fs.writeFileSync(path.join(w, 'pub.txt'), 'public');
  const policy = profile([special('root', 'read'), literal(w, 'write'), literal(path.join(w, 'private'), 'none')]);
  const ops = [['read', path.join(w, 'private', 'key.txt')], ['read', path.join(w, 'pub.txt')]];
  if (PIPELINES.includes('bwrap')) {
    assert.deepEqual(await inSandbox(attempts(ops), { policy, policyCwd: w, cwd: w, pipeline: 'bwrap' }), ['ENOENT', 'OK']);
  } else if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') {
    assert.fail('the bwrap pipeline is unavailable here');
  } else {
    t.diagnostic('SKIP the bwrap half: no user namespaces');
  }
  // Landlock alone cannot take a read back inside a readable tree: never silently readable.
  assert.throws(() => sandbox.spawn(NODE, ['-e', ''], { policy, policyCwd: w, pipeline: 'landlock' }), { code: 'ERR_SANDBOX_UNSUPPORTED' });
  assert.equal(fs.readFileSync(path.join(w, 'private', 'key.txt'), 'utf8'), 'the-key');
});

function listener() {
  return new Promise((resolve) => {
    const seen = { connections: 0 };
    const server = net.createServer((socket) => {
      seen.connections++;
      socket.end('pong');
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, seen }));
  });
}

for (const pipeline of PIPELINES) {
  test(`${pipeline}: network { managed }: only the listed loopback port is reachable`, async (t) => {
    const allowed = await listener();
    const other = await listener();
    const connect = (port) =>
      `const s = require('net').connect(${port}, '127.0.0.1'); s.on('data', (d) => { console.log('REPLY:' + d); s.destroy() }); s.on('error', (e) => console.log(e.code))`;
    const network = { managed: { loopbackPorts: [allowed.port], allowLocalBinding: false, allowUnixSockets: [], dangerouslyAllowAllUnixSockets: false } };
    try {
      let plan;
      try {
        plan = sandbox.explain(NODE, [], { policy: 'read-only', network, pipeline });
      } catch (error) {
        // Proxy-only networking needs Landlock ABI 4 on the landlock pipeline: refused, not open.
        assert.equal(error.code, 'ERR_SANDBOX_UNSUPPORTED');
        return t.diagnostic(`refused: ${error.message}`);
      }
      assert.equal(plan.network, 'proxy');
      assert.deepEqual(await inSandbox(connect(allowed.port), { policy: 'read-only', network, pipeline }), ['REPLY:pong']);
      const refused = pipeline === 'landlock' ? 'EACCES' : 'ECONNREFUSED';
      assert.deepEqual(await inSandbox(connect(other.port), { policy: 'read-only', network, pipeline }), [refused]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(allowed.seen.connections, 1);
      assert.equal(other.seen.connections, 0);
    } finally {
      allowed.server.close();
      other.server.close();
    }
  });
}

test('maxProcesses reaches the plan; bad values are refused before anything runs', () => {
  const pipeline = PIPELINES[0];
  // Budgeted by default where it can be enforced: RLIMIT_NPROC in the sandbox's own user
  // namespace, or (for the host's root, whom that exempts) a pids cgroup of the run's own.
  if (sandbox.explain('true', [], { pipeline }).process.max_processes !== undefined) {
    assert.equal(sandbox.explain('true', [], { pipeline, maxProcesses: 64 }).process.max_processes, 64);
  } else {
    // Root without a pids cgroup, or read-only Landlock sharing the host's user namespace: a
    // budget asked for there is refused, never silently dropped.
    assert.throws(() => sandbox.explain('true', [], { pipeline, maxProcesses: 64 }), { code: 'ERR_SANDBOX_UNSUPPORTED' });
  }
  for (const bad of [0, -1, 1.5, '64']) {
    assert.throws(() => sandbox.spawn('true', [], { maxProcesses: bad }), { code: 'ERR_SANDBOX_INVALID_ARGUMENT' });
  }
  assert.throws(() => sandbox.spawn('true', [], { network: { managed: {}, extra: 1 } }), { code: 'ERR_SANDBOX_INVALID_ARGUMENT' });
  assert.throws(() => sandbox.spawn('true', [], { network: { managed: { loopbackPorts: ['x'] } } }), /loopbackPorts/);
});
