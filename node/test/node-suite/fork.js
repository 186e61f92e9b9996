'use strict';
// Node's tests of fork() (test/parallel/test-child-process-fork*,
// test-child-process-advanced-serialization*), as what each asserts.
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { assert, once, collect, runScript, tempDir, NODE } = require('./common.js');

const dir = tempDir('codex-suite-fork-');
function writeModule(name, source) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}
const ECHO = writeModule('echo.js', `
  process.on('message', (m) => {
    if (m === 'bye') return process.disconnect();
    process.send({ echo: m, argv: process.argv.slice(2), gc: typeof gc });
  });
  process.send('ready');`);
const PRINT = writeModule('print.js', 'console.log("printed"); console.error("warned");');
const ADVANCED = writeModule('advanced.js', `
  process.on('message', (m) => process.send(m));`);
const SERVER = writeModule('server.js', `
  process.on('message', (m, server) => {
    if (m !== 'server' || !server) { process.send('no server'); return process.disconnect(); }
    process.send('got ' + typeof server.listen);
    server.close();
    process.disconnect();
  });`);

module.exports = [
  ['fork: messages both ways, connected, exit 0', async (cp) => {
    const child = cp.fork(ECHO);
    assert.equal(child.connected, true);
    assert.equal((await once(child, 'message'))[0], 'ready');
    child.send({ a: [1, 'b'] });
    const [reply] = await once(child, 'message');
    assert.deepEqual(reply.echo, { a: [1, 'b'] });
    const exit = once(child, 'exit');
    child.send('bye');
    assert.deepEqual(await exit, [0, null]);
  }],
  ['fork-args: arguments after the module path', async (cp) => {
    const child = cp.fork(ECHO, ['one', 'two']);
    await once(child, 'message');
    child.send(1);
    const [reply] = await once(child, 'message');
    assert.deepEqual(reply.argv, ['one', 'two']);
    child.kill();
    await once(child, 'exit');
  }],
  ['fork-close: exit, disconnect and close all come', async (cp) => {
    const child = cp.fork(ECHO);
    const seen = [];
    for (const event of ['exit', 'disconnect']) child.on(event, () => seen.push(event));
    await once(child, 'message');
    const close = once(child, 'close');
    child.send('bye');
    await close;
    assert.deepEqual(seen.sort(), ['disconnect', 'exit']);
  }],
  ['fork-exec-argv: execArgv reaches the child', async (cp) => {
    const child = cp.fork(ECHO, [], { execArgv: ['--expose-gc'] });
    await once(child, 'message');
    child.send(0);
    const [reply] = await once(child, 'message');
    assert.equal(reply.gc, 'function');
    child.send('bye');
    await once(child, 'exit');
  }],
  ['fork-exec-path: execPath runs the module', async (cp) => {
    const child = cp.fork(PRINT, { execPath: NODE, silent: true });
    assert.equal(child.spawnfile, NODE);
    assert.equal(await collect(child.stdout), 'printed\n');
    await once(child, 'exit');
  }],
  ['fork-stdio: silent pipes the output; stdio arrays need ipc', async (cp) => {
    const child = cp.fork(PRINT, { silent: true });
    const [out, err] = await Promise.all([collect(child.stdout), collect(child.stderr)]);
    assert.deepEqual([out, err], ['printed\n', 'warned\n']);
    assert.throws(() => cp.fork(PRINT, { stdio: ['pipe', 'pipe', 'pipe'] }), { code: 'ERR_CHILD_PROCESS_IPC_REQUIRED' });
    const custom = cp.fork(PRINT, { stdio: ['pipe', 'pipe', 'ignore', 'ipc'] });
    assert.equal(await collect(custom.stdout), 'printed\n');
    assert.equal(custom.stderr, null);
  }],
  ['fork-abort-signal: abort kills with AbortError', async (cp) => {
    const controller = new AbortController();
    const child = cp.fork(ECHO, { signal: controller.signal });
    await once(child, 'message');
    const error = once(child, 'error');
    controller.abort();
    assert.equal((await error)[0].name, 'AbortError');
    assert.deepEqual(await once(child, 'exit'), [null, 'SIGTERM']);
  }],
  ['fork-timeout-kill-signal: timeout sends killSignal', async (cp) => {
    const child = cp.fork(ECHO, { timeout: 100, killSignal: 'SIGKILL' });
    assert.deepEqual(await once(child, 'exit'), [null, 'SIGKILL']);
  }],
  ['fork-url: a file: URL module path', async (cp) => {
    const child = cp.fork(pathToFileURL(PRINT), { silent: true });
    assert.equal(await collect(child.stdout), 'printed\n');
  }],
  ['fork-no-shell: shell is ignored', async (cp) => {
    const child = cp.fork(PRINT, { shell: true, silent: true });
    assert.equal(child.spawnfile, NODE);
    assert.equal(await collect(child.stdout), 'printed\n');
  }],
  ['fork-ref: an unref()ed child does not hold the parent', async (cp, { source }) => {
    const started = Date.now();
    const out = runScript(source, `const c = cp.fork(${JSON.stringify(ECHO)}); c.unref(); c.channel.unref(); console.log('done');`);
    assert.equal(out.stdout, 'done\n', out.stderr);
    assert.ok(Date.now() - started < 10000);
  }],
  ['advanced-serialization: Map, Set, BigInt, Buffer, Date round trip', async (cp) => {
    const child = cp.fork(ADVANCED, { serialization: 'advanced' });
    const message = { map: new Map([[1, 'a']]), set: new Set(['s']), big: 10n ** 20n, buf: Buffer.from('bytes'), date: new Date(0), nested: [undefined, null] };
    child.send(message);
    const [reply] = await once(child, 'message');
    assert.deepEqual(reply.map, message.map);
    assert.deepEqual(reply.set, message.set);
    assert.equal(reply.big, message.big);
    assert.equal(Buffer.from(reply.buf).toString(), 'bytes');
    assert.deepEqual(reply.date, message.date);
    assert.deepEqual(reply.nested, [undefined, null]);
    child.disconnect();
    await once(child, 'exit');
  }],
  ['advanced-serialization-largebuffer: a large message in pieces', async (cp) => {
    const child = cp.fork(ADVANCED, { serialization: 'advanced' });
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    child.send({ big });
    const [reply] = await once(child, 'message');
    assert.equal(reply.big.length, big.length);
    assert.equal(Buffer.compare(Buffer.from(reply.big), big), 0);
    child.disconnect();
    await once(child, 'exit');
  }],
  ['fork-net-server: a net.Server sent as a handle', async (cp) => {
    const server = net.createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const child = cp.fork(SERVER);
    try {
      child.send('server', server);
      assert.equal((await once(child, 'message'))[0], 'got function');
      await once(child, 'exit');
    } finally {
      server.close();
      child.kill('SIGKILL');
    }
  }],
];
