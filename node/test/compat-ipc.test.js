'use strict';
// child_process vs sandbox: the IPC channel. Messages both ways and both serializations,
// disconnect, and handles (a listening server, a connected socket) sent both ways as Node
// sends them (descriptors over SCM_RIGHTS). The sandbox also keeps its network policy: the
// only listener a command without network can accept on is the one it was given.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { once } = require('node:events');
const { compare, events, implementations } = require('./compat.js');
const { tempDir } = require('./helpers.js');

const dir = tempDir();

/** Writes a script for a forked child and returns its path. */
function script(name, source) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

/** Reads everything a client connected to `port` on 127.0.0.1 receives (bounded). */
function readFrom(port) {
  return new Promise((resolve, reject) => {
    const client = net.connect(port, '127.0.0.1');
    let text = '';
    client.setEncoding('utf8');
    client.setTimeout(10000, () => client.destroy(new Error('no answer within 10 s')));
    client.on('data', (chunk) => {
      text += chunk;
    });
    client.on('end', () => resolve(text));
    client.on('error', reject);
  });
}

function listening() {
  const server = net.createServer();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test("IPC: 'ipc' in stdio and fork()", async (t) => {
  const forked = script(
    'forked.js',
    `process.on('message', (m) => {
      if (m === 'bye') return process.disconnect();
      process.send({ echo: m, argv: process.argv.slice(2), connected: process.connected });
    });
    process.send('ready');`,
  );
  const conversation = async (child) => {
    const messages = [];
    const order = [];
    child.on('message', (m) => {
      messages.push(m);
      if (m === 'ready') child.send({ n: 1, text: 'ü' });
      else child.send('bye');
    });
    child.on('disconnect', () => order.push(`disconnect:${child.connected}`));
    const seen = await events(child);
    return { messages, order, seen, connected: child.connected };
  };
  await compare(t, [
    ["spawn with 'ipc'", async (cp) => conversation(cp.spawn(process.execPath, [forked, 'a'], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }))],
    ['fork()', async (cp) => conversation(cp.fork(forked, ['b', 'c']))],
    ['fork() silent', async (cp) => {
      const child = cp.fork(forked, [], { silent: true });
      return { stdout: child.stdout !== null, ...(await conversation(child)) };
    }],
    ['fork() with execArgv', async (cp) => conversation(cp.fork(forked, ['d'], { execArgv: ['--no-warnings'] }))],
    ["fork() with serialization 'advanced'", async (cp) => {
      const child = cp.fork(forked, [], { serialization: 'advanced' });
      const [ready] = await once(child, 'message');
      child.send({ map: new Map([[1, 'one']]), bytes: new Uint8Array([1, 2, 3]), big: 10n ** 20n });
      const [reply] = await once(child, 'message');
      child.send('bye');
      const seen = await events(child);
      return { ready, map: [...reply.echo.map], bytes: [...reply.echo.bytes], big: String(reply.echo.big), seen };
    }],
    ['fork() without ipc in stdio', async (cp) => {
      try {
        cp.fork(forked, [], { stdio: ['pipe', 'pipe', 'pipe'] });
        return 'forked';
      } catch (error) {
        return { name: error.name, code: error.code };
      }
    }],
    ["two 'ipc'", async (cp) => {
      try {
        cp.spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe', 'ipc', 'ipc'] });
        return 'spawned';
      } catch (error) {
        return { name: error.name, code: error.code };
      }
    }],
  ]);
});

test('fork() from a process run with -e: the child runs modulePath, not the script', async (t) => {
  const module = script('module.js', `process.send('module ran'); process.disconnect();`);
  const root = path.join(__dirname, '..', '..');
  await compare(t, [
    ['fork() with the default execArgv', async (cp, implName) => {
      const from = implName === 'child_process' ? 'node:child_process' : root;
      const extra = ['landlock', 'bwrap'].includes(implName) ? { pipeline: implName } : {};
      const source = `const cp = require(${JSON.stringify(from)});
        const child = cp.fork(${JSON.stringify(module)}, [], ${JSON.stringify(extra)});
        child.on('message', (m) => console.log(m));
        child.on('exit', (code) => console.log('exit', code));`;
      const result = require('node:child_process').spawnSync(process.execPath, ['-e', source], { encoding: 'utf8', timeout: 30000 });
      return { status: result.status, stdout: result.stdout };
    }],
  ]);
});

test('IPC handles: servers and sockets sent both ways', async (t) => {
  // Takes a server and serves every connection itself; takes a socket and writes on it; sends
  // a server it was given back to the parent.
  const worker = script(
    'handles.js',
    `const net = require('node:net');
    const held = [];
    process.on('message', (m, handle) => {
      if (handle) held.push(handle);
      if (m === 'serve') {
        handle.on('connection', (socket) => socket.end('served by the child'));
        process.send({ serving: handle instanceof net.Server, port: handle.address().port });
      } else if (m === 'socket') {
        handle.end('written by the child');
        process.send({ wrote: handle instanceof net.Socket });
      } else if (m === 'return') {
        process.send('returned', handle);
      } else if (m === 'bye') {
        for (const handle of held) handle.close?.();
        process.disconnect();
      }
    });`,
  );
  await compare(t, [
    ['a server sent to the child accepts there', async (cp) => {
      const server = await listening();
      const { port } = server.address();
      const child = cp.fork(worker);
      child.send('serve', server);
      const [reply] = await once(child, 'message');
      // The parent's copy stops accepting; the child's keeps listening.
      await new Promise((resolve) => server.close(resolve));
      const received = await readFrom(port);
      child.send('bye');
      const seen = await events(child);
      return { reply: { ...reply, port: reply.port === port }, received, seen };
    }],
    ['a connected socket sent to the child is written there', async (cp) => {
      const server = await listening();
      const child = cp.fork(worker);
      const accepted = once(server, 'connection');
      const reading = readFrom(server.address().port);
      const [socket] = await accepted;
      child.send('socket', socket);
      const [reply] = await once(child, 'message');
      const received = await reading;
      child.send('bye');
      const seen = await events(child);
      server.close();
      return { reply, received, destroyed: socket.destroyed, seen };
    }],
    ['a handle sent back by the child', async (cp) => {
      const server = await listening();
      const { port } = server.address();
      const child = cp.fork(worker);
      child.send('return', server);
      const [message, returned] = await once(child, 'message');
      const same = returned instanceof net.Server && returned.address().port === port;
      returned.close();
      server.close();
      child.send('bye');
      const seen = await events(child);
      return { message, same, seen };
    }],
    ['a handle of a type Node cannot send', async (cp) => {
      const child = cp.fork(worker);
      try {
        child.send('x', { fd: 1 });
        return 'sent';
      } catch (error) {
        return { name: error.name, code: error.code };
      } finally {
        child.send('bye');
        await events(child);
      }
    }],
  ]);
});

test('without network a sandboxed child accepts on the listener it was given, and on no other', async () => {
  const probeScript = script(
    'own-listener.js',
    `const net = require('node:net');
    process.on('message', (m, handle) => {
      handle.on('connection', (socket) => {
        socket.end('given');
        handle.close();
      });
      const own = net.createServer();
      own.on('error', (error) => process.send({ own: error.code, syscall: error.syscall }));
      own.listen(0, '127.0.0.1', () => process.send({ own: 'listening' }));
    });`,
  );
  for (const [name, impl] of implementations().slice(1)) {
    const server = await listening();
    const { port } = server.address();
    const child = impl.fork(probeScript, [], { policy: 'read-only' });
    try {
      child.send('serve', server);
      const [reply] = await once(child, 'message');
      await new Promise((resolve) => server.close(resolve));
      // socket(AF_INET) is refused: the command cannot make a listener of its own.
      assert.deepEqual(reply, { own: 'EPERM', syscall: 'listen' }, name);
      assert.equal(await readFrom(port), 'given', name);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'close');
    }
  }
});

test("a Node that attaches its channel differently: fork() is refused before anything runs", () => {
  const marker = path.join(dir, 'forked-anyway');
  const child = script('marker.js', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');`);
  // A fresh Node whose ChildProcess.prototype.spawn no longer calls the process handle.
  const result = require('node:child_process').spawnSync(
    process.execPath,
    [
      '-e',
      `const { ChildProcess } = require('node:child_process');
      ChildProcess.prototype.spawn = function () { return 0; };
      const sandbox = require(${JSON.stringify(path.join(__dirname, '..', '..'))});
      const before = require('node:fs').readdirSync('/proc/self/fd').length;
      try {
        sandbox.fork(${JSON.stringify(child)});
        console.log('forked');
      } catch (error) {
        console.log(error.code, require('node:fs').readdirSync('/proc/self/fd').length - before);
      }`,
    ],
    { encoding: 'utf8', timeout: 30000 },
  );
  assert.equal(result.stdout.trim(), 'ERR_SANDBOX_UNSUPPORTED 0', result.stderr);
  assert.equal(fs.existsSync(marker), false, 'the command ran');
});
