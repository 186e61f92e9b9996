'use strict';
// The unix-socket capability through Node (`unixSockets`): by default a host unix listener
// (pathname and abstract) created here gets no connection from the sandbox and the command
// sees EPERM, whatever the network mode, while Node's own IPC (a socketpair: fork() inside the
// sandbox) keeps working; 'all' reaches the listener; a list of paths is granted through the
// connect broker: exactly those sockets (and TCP as the network mode says), nothing else.
// Evidence: the listeners' connection counts.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const sandbox = require('@codex/linux-sandbox');
const { tempDir, NODE } = require('./helpers.js');

const PIPELINES = sandbox.probe().namespaces.available ? ['bwrap', 'landlock'] : ['landlock'];

/** Connects to each address; prints one word per address, then the answer of an IPC round trip. */
const PROBE = `
const net = require('net');
const { spawn } = require('child_process');
const attempt = (address) => new Promise((resolve) => {
  const s = net.connect(address);
  s.setTimeout(3000, () => { s.destroy(); resolve('TIMEOUT'); });
  s.on('connect', () => { s.end('reached'); resolve('OK'); });
  s.on('error', (e) => resolve(e.code));
});
(async () => {
  const words = [];
  for (const address of JSON.parse(process.argv[1])) words.push(await attempt(address));
  // An IPC channel, as fork() makes it: a socketpair between this process and its child.
  const echo = "process.on('message', (m) => { process.send(m + '-back'); process.disconnect(); })";
  const child = spawn(process.execPath, ['-e', echo], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.send('ipc');
  child.on('message', (m) => { words.push(m); console.log(words.join(' ')); });
})();
`;

/** A host listener at a path (anyone may connect) and one in the abstract namespace, counting connections. */
async function listeners() {
  const dir = tempDir('unix-host-');
  const socketPath = path.join(dir, 'host.sock');
  const abstractName = `\0codex-node-unix-${process.pid}-${Math.random().toString(16).slice(2)}`;
  const counts = { path: 0, abstract: 0 };
  const servers = [];
  for (const [key, address] of [['path', socketPath], ['abstract', abstractName]]) {
    const server = net.createServer((c) => {
      counts[key] += 1;
      c.destroy();
    });
    await new Promise((resolve, reject) => server.listen(address, resolve).on('error', reject));
    servers.push(server);
  }
  fs.chmodSync(socketPath, 0o777);
  return { socketPath, abstractName, counts, close: () => servers.forEach((s) => s.close()) };
}

async function probe(host, options) {
  return probeAt(host, [host.socketPath, host.abstractName], options);
}

async function probeAt(host, addresses, options) {
  const result = await sandbox.run(NODE, ['-e', PROBE, JSON.stringify(addresses)], {
    policyCwd: '/tmp',
    cwd: '/tmp',
    ...options,
  });
  assert.equal(result.code, 0, `sandboxed node failed: ${result.stderr}`);
  // Let a connection that got through reach the listeners' accept before counting.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return result.stdout.trim();
}

for (const pipeline of PIPELINES) {
  for (const network of ['restricted', 'full']) {
    test(`${pipeline}, ${network} network: no host unix socket without unixSockets, a granted path only with it, Node's IPC works`, async () => {
      const host = await listeners();
      try {
        for (const unixSockets of [undefined, 'none']) {
          assert.equal(await probe(host, { pipeline, network, unixSockets }), 'EPERM EPERM ipc-back');
        }
        assert.deepEqual(host.counts, { path: 0, abstract: 0 }, 'a host listener was reached');

        // A path granted: the connect broker connects it (Node's connect is non-blocking:
        // EINPROGRESS, then done), refuses the abstract name (EACCES); a second listener, not
        // granted, gets nothing.
        const granted = [host.socketPath];
        const plan = sandbox.explain(NODE, ['-e', '0'], { pipeline, network, unixSockets: granted, policyCwd: '/tmp' });
        assert.equal(plan.unix_sockets.granted, 'paths');
        assert.deepEqual(plan.unix_sockets.granted_paths, [fs.realpathSync(host.socketPath)]);
        assert.match(plan.unix_sockets.enforced_by, /^the connect broker/);
        assert.equal(plan.unix_sockets.not_granted, undefined);
        const other = await listeners();
        try {
          const words = await probeAt(host, [host.socketPath, host.abstractName, other.socketPath], {
            pipeline,
            network,
            unixSockets: granted,
          });
          assert.equal(words, 'OK EACCES EACCES ipc-back');
          assert.deepEqual(host.counts, { path: 1, abstract: 0 }, 'the granted socket: exactly one connection');
          assert.deepEqual(other.counts, { path: 0, abstract: 0 }, 'a socket not granted was reached');
        } finally {
          other.close();
        }
        if (network === 'full') {
          // TCP still connects through the broker under full network.
          let tcp = 0;
          const server = net.createServer((c) => { tcp += 1; c.destroy(); });
          await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
          try {
            const words = await probeAt(host, [{ host: '127.0.0.1', port: server.address().port }], {
              pipeline,
              network,
              unixSockets: granted,
            });
            assert.equal(words, 'OK ipc-back');
            assert.equal(tcp, 1);
          } finally {
            server.close();
          }
        }
      } finally {
        host.close();
      }
    });
  }

  test(`${pipeline}: unixSockets 'all' reaches the host's listeners`, async () => {
    const host = await listeners();
    try {
      // Full network: the host's network namespace, so its abstract socket too.
      assert.equal(await probe(host, { pipeline, network: 'full', unixSockets: 'all' }), 'OK OK ipc-back');
      assert.deepEqual(host.counts, { path: 1, abstract: 1 });
      const plan = sandbox.explain(NODE, ['-e', '0'], { pipeline, unixSockets: 'all', policyCwd: '/tmp' });
      assert.equal(plan.unix_sockets.granted, 'all');
      assert.ok(plan.warnings.some((w) => w.startsWith('unix sockets: all: every unix socket')), plan.warnings.join('\n'));
    } finally {
      host.close();
    }
  });
}

for (const pipeline of PIPELINES) {
  test(`${pipeline}, proxy mode (managed network): allowUnixSockets through the broker, TCP to the proxy port only`, async () => {
    const host = await listeners();
    const tcp = { proxy: 0, other: 0 };
    const servers = [];
    for (const key of ['proxy', 'other']) {
      const server = net.createServer((c) => { tcp[key] += 1; c.destroy(); });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
    }
    const [proxyPort, otherPort] = servers.map((s) => s.address().port);
    try {
      const managed = { loopbackPorts: [proxyPort], allowUnixSockets: [host.socketPath] };
      const addresses = [host.socketPath, host.abstractName, { host: '127.0.0.1', port: proxyPort }, { host: '127.0.0.1', port: otherPort }];
      const words = await probeAt(host, addresses, { pipeline, network: { managed } });
      // Landlock refuses the other port (EACCES); the namespace pipeline's own network
      // namespace has nothing listening there (ECONNREFUSED).
      assert.equal(words, `OK EACCES OK ${pipeline === 'bwrap' ? 'ECONNREFUSED' : 'EACCES'} ipc-back`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(host.counts, { path: 1, abstract: 0 });
      assert.deepEqual(tcp, { proxy: 1, other: 0 }, 'only the proxy port was reached');
    } finally {
      host.close();
      servers.forEach((s) => s.close());
    }
  });
}

test('unixSockets is checked, and must agree with a managed network', () => {
  for (const bad of ['some', 7, ['relative.sock'], [1]]) {
    assert.throws(() => sandbox.explain(NODE, ['-e', '0'], { unixSockets: bad }), {
      code: 'ERR_SANDBOX_INVALID_ARGUMENT',
      message: /unixSockets must be 'none', 'all' or an array of absolute paths/,
    });
  }
  const managed = { loopbackPorts: [9], dangerouslyAllowAllUnixSockets: true };
  assert.throws(() => sandbox.explain(NODE, ['-e', '0'], { network: { managed }, unixSockets: ['/run/x.sock'] }), {
    message: /`unix-sockets`: disagrees with the managed network's unix-socket fields/,
  });
  assert.equal(sandbox.explain(NODE, ['-e', '0'], { network: { managed }, policyCwd: '/tmp' }).unix_sockets.granted, 'all');
});
