'use strict';
// What the kernel enforces: asserted from errno values, host files and listeners, never from
// expected strings alone.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const sandbox = require('@codex/linux-sandbox');
const { tempDir, NODE } = require('./helpers.js');

// Every pipeline this host can run: the namespace pipeline only where namespaces are allowed.
const PIPELINES = sandbox.probe().namespaces.available ? ['bwrap', 'landlock'] : ['landlock'];

/** Runs `node -e script` in the sandbox; the script prints one word. */
async function inSandbox(script, options) {
  const result = await sandbox.run(NODE, ['-e', script], options);
  assert.equal(result.code, 0, `sandboxed node failed: ${result.stderr}`);
  return result.stdout.trim();
}

// The exact errno of a refused write: Landlock refuses the open (EACCES); the namespace
// pipeline's read-only view refuses it first (EROFS).
// With user namespaces the landlock pipeline runs in the same read-only view (EROFS as well).
const WRITE_REFUSED = { landlock: sandbox.probe().namespaces.available ? 'EROFS' : 'EACCES', bwrap: 'EROFS' };
// A refused connection: seccomp refuses connect(2) without a network (EPERM); in proxy mode the
// namespace pipeline's empty network namespace has no listener on other ports (ECONNREFUSED)
// and the landlock pipeline's TCP rules refuse them (EACCES).
const CONNECT_REFUSED = { restricted: { landlock: 'EPERM', bwrap: 'EPERM' }, proxy: { landlock: 'EACCES', bwrap: 'ECONNREFUSED' } };

const writeScript = (file) =>
  `try { require('fs').writeFileSync(${JSON.stringify(file)}, 'pwned'); console.log('WROTE') } catch (e) { console.log(e.code) }`;

for (const pipeline of PIPELINES) {
  test(`${pipeline}: a write outside the writable roots fails and the host file is untouched`, async () => {
    const dir = tempDir();
    const host = path.join(dir, 'host.txt');
    fs.writeFileSync(host, 'original');
    const outcome = await inSandbox(writeScript(host), { policy: 'read-only', pipeline });
    assert.equal(outcome, WRITE_REFUSED[pipeline]);
    assert.equal(fs.readFileSync(host, 'utf8'), 'original');
    const created = path.join(dir, 'new.txt');
    assert.equal(await inSandbox(writeScript(created), { policy: 'read-only', pipeline }), WRITE_REFUSED[pipeline]);
    assert.equal(fs.existsSync(created), false);
  });

  test(`${pipeline}: workspace-write: the cwd is writable, a sibling directory is not`, async () => {
    const work = tempDir();
    const other = tempDir();
    const policy = { type: 'workspace-write', exclude_slash_tmp: true, exclude_tmpdir_env_var: true };
    const inside = path.join(work, 'inside.txt');
    const outside = path.join(other, 'outside.txt');
    fs.writeFileSync(outside, 'original');
    assert.equal(await inSandbox(writeScript(inside), { policy, cwd: work, policyCwd: work, pipeline }), 'WROTE');
    assert.equal(fs.readFileSync(inside, 'utf8'), 'pwned');
    assert.equal(await inSandbox(writeScript(outside), { policy, cwd: work, policyCwd: work, pipeline }), WRITE_REFUSED[pipeline]);
    assert.equal(fs.readFileSync(outside, 'utf8'), 'original');
  });
}

function listener() {
  return new Promise((resolve) => {
    const seen = { connections: 0, bytes: 0 };
    const server = net.createServer((socket) => {
      seen.connections++;
      socket.on('data', (data) => {
        seen.bytes += data.length;
        socket.end('pong');
      });
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, seen }));
  });
}

const connectScript = (port) =>
  `const s = require('net').connect(${port}, '127.0.0.1');` +
  `s.on('connect', () => s.write('ping')); s.on('data', (d) => { console.log('REPLY:' + d); s.destroy() });` +
  `s.on('error', (e) => console.log(e.code))`;

for (const pipeline of PIPELINES) {
  test(`${pipeline}: restricted network: a loopback listener of the test sees nothing`, async () => {
    const { server, port, seen } = await listener();
    try {
      const outcome = await inSandbox(connectScript(port), { policy: 'read-only', pipeline });
      assert.equal(outcome, CONNECT_REFUSED.restricted[pipeline]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(seen, { connections: 0, bytes: 0 });
      // The control: the same script reaches the listener with network: 'full'.
      assert.equal(await inSandbox(connectScript(port), { policy: 'read-only', network: 'full', pipeline }), 'REPLY:pong');
      assert.equal(seen.connections, 1);
    } finally {
      server.close();
    }
  });

  test(`${pipeline}: network 'proxy' reaches the proxy named in the environment and nothing else`, async () => {
    const proxy = await listener();
    const other = await listener();
    const env = { PATH: process.env.PATH, HTTP_PROXY: `http://127.0.0.1:${proxy.port}` };
    try {
      let plan;
      try {
        plan = sandbox.explain(NODE, { policy: 'read-only', network: 'proxy', env, pipeline });
      } catch (error) {
        // A core without proxy-only networking refuses rather than running with another network.
        assert.equal(error.code, 'ERR_SANDBOX_UNSUPPORTED');
        assert.throws(() => sandbox.spawn(NODE, { network: 'proxy', env }), { code: 'ERR_SANDBOX_UNSUPPORTED' });
        await assert.rejects(sandbox.run(NODE, { network: 'proxy', env }), { code: 'ERR_SANDBOX_UNSUPPORTED' });
        return;
      }
      assert.equal(plan.network, 'proxy');
      assert.equal(await inSandbox(connectScript(proxy.port), { policy: 'read-only', network: 'proxy', env, pipeline }), 'REPLY:pong');
      assert.equal(proxy.seen.connections, 1);
      assert.equal(proxy.seen.bytes, 4);
      assert.equal(
        await inSandbox(connectScript(other.port), { policy: 'read-only', network: 'proxy', env, pipeline }),
        CONNECT_REFUSED.proxy[pipeline],
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(other.seen.connections, 0);
    } finally {
      proxy.server.close();
      other.server.close();
    }
  });
}
