'use strict';
// Node's tests of spawn() (test/parallel/test-child-process-*), one case per test, as what
// each asserts. The name is the Node test's.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { assert, once, collect, result, throwsLike, runScript, delay, tempDir, NODE } = require('./common.js');

const MISSING = 'codex-suite-no-such-command';
const { errno } = os.constants;
const dir = tempDir('codex-suite-spawn-');

module.exports = [
  ['spawn-error: ENOENT through error, never exit', async (cp) => {
    const child = cp.spawn(MISSING, ['a', 'b']);
    assert.ok(child.stdin && child.stdout && child.stderr, 'stdio streams exist');
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    const [error] = await once(child, 'error');
    assert.equal(error.code, 'ENOENT');
    assert.equal(error.errno, -errno.ENOENT);
    assert.equal(error.syscall, `spawn ${MISSING}`);
    assert.equal(error.path, MISSING);
    assert.deepEqual(error.spawnargs, ['a', 'b']);
    assert.equal(error.message, `spawn ${MISSING} ENOENT`);
    await once(child, 'close');
    assert.equal(exited, false);
    assert.equal(child.exitCode, -errno.ENOENT);
    assert.equal(child.pid, undefined);
  }],

  ['spawn-event: spawn once, before exit; none when it cannot start', async (cp) => {
    const order = [];
    const child = cp.spawn('echo', ['x']);
    child.on('spawn', () => order.push('spawn'));
    child.on('exit', () => order.push('exit'));
    child.stdout.resume();
    await once(child, 'close');
    assert.deepEqual(order, ['spawn', 'exit']);
    const failing = cp.spawn(MISSING);
    let spawned = false;
    failing.on('spawn', () => {
      spawned = true;
    });
    await once(failing, 'error');
    await delay(20);
    assert.equal(spawned, false);
  }],

  ['spawn-typeerror: invalid file, args and options throw Node\'s errors', async (cp) => {
    for (const file of [undefined, null, 1, {}, [], true]) {
      throwsLike(() => cp.spawn(file), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }
    throwsLike(() => cp.spawn(''), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    throwsLike(() => cp.spawn('echo', 'not-an-array'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    throwsLike(() => cp.spawn('echo', [], 'not-an-object'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    throwsLike(() => cp.spawn('echo', [], null), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    for (const call of [() => cp.spawn('echo', {}), () => cp.spawn('echo', null), () => cp.spawn('echo', [], {}), () => cp.spawn('echo', undefined, undefined)]) {
      const child = call();
      child.stdout.resume();
      assert.deepEqual(await once(child, 'close'), [0, null]);
    }
  }],

  ['spawn-argv0: argv[0] is options.argv0, the file still runs', async (cp) => {
    const named = await result(cp.spawn(NODE, ['-p', 'process.argv0'], { argv0: 'withArgv0' }));
    assert.deepEqual([named.code, named.stdout], [0, 'withArgv0\n']);
    const plain = await result(cp.spawn(NODE, ['-p', 'process.argv0']));
    assert.deepEqual([plain.code, plain.stdout], [0, `${NODE}\n`]);
  }],

  ['spawn-shell: shell true and a path, spawnargs, variables expand', async (cp) => {
    const child = cp.spawn('echo foo', { shell: true });
    assert.equal(child.spawnfile, '/bin/sh');
    assert.deepEqual(child.spawnargs, ['/bin/sh', '-c', 'echo foo']);
    assert.deepEqual(await result(child), { code: 0, signal: null, stdout: 'foo\n', stderr: '' });
    const joined = await result(cp.spawn('echo', ['bar', 'baz'], { shell: '/bin/sh' }));
    assert.equal(joined.stdout, 'bar baz\n');
    const expanded = await result(cp.spawn('echo $CODEX_SUITE_VAR', { shell: true, env: { CODEX_SUITE_VAR: 'buzz' } }));
    assert.equal(expanded.stdout, 'buzz\n');
    const piped = await result(cp.spawn('echo a-b-c | tr - +', { shell: true }));
    assert.equal(piped.stdout, 'a+b+c\n');
  }],

  ['spawn-controller: abort after spawn kills with SIGTERM and emits AbortError', async (cp) => {
    const controller = new AbortController();
    const child = cp.spawn('sleep', ['10'], { signal: controller.signal, stdio: 'ignore' });
    await once(child, 'spawn');
    const errorP = once(child, 'error');
    controller.abort();
    const [error] = await errorP;
    assert.equal(error.name, 'AbortError');
    assert.equal(error.code, 'ABORT_ERR');
    assert.deepEqual(await once(child, 'exit'), [null, 'SIGTERM']);
    assert.equal(child.killed, true);
  }],

  ['spawn-controller: abort(reason) becomes the error\'s cause', async (cp) => {
    const controller = new AbortController();
    const child = cp.spawn('sleep', ['10'], { signal: controller.signal, stdio: 'ignore' });
    const reason = new Error('why');
    const errorP = once(child, 'error');
    controller.abort(reason);
    const [error] = await errorP;
    assert.equal(error.name, 'AbortError');
    assert.equal(error.cause, reason);
    await once(child, 'exit');
  }],

  ['spawn-controller: an already aborted signal starts, then kills', async (cp) => {
    const child = cp.spawn('sleep', ['10'], { signal: AbortSignal.abort(), stdio: 'ignore' });
    assert.equal(typeof child.pid, 'number');
    const [error] = await once(child, 'error');
    assert.equal(error.name, 'AbortError');
    assert.deepEqual(await once(child, 'exit'), [null, 'SIGTERM']);
  }],

  ['spawn-controller: killSignal applies to abort', async (cp) => {
    const controller = new AbortController();
    const child = cp.spawn('sleep', ['10'], { signal: controller.signal, killSignal: 'SIGKILL', stdio: 'ignore' });
    child.on('error', () => {});
    await once(child, 'spawn');
    controller.abort();
    assert.deepEqual(await once(child, 'exit'), [null, 'SIGKILL']);
  }],

  ['spawn-timeout-kill-signal: timeout sends killSignal', async (cp) => {
    const child = cp.spawn('sleep', ['10'], { timeout: 50, killSignal: 'SIGKILL', stdio: 'ignore' });
    assert.deepEqual(await once(child, 'exit'), [null, 'SIGKILL']);
    assert.equal(child.killed, true);
    const term = cp.spawn('sleep', ['10'], { timeout: 50, stdio: 'ignore' });
    assert.deepEqual(await once(term, 'exit'), [null, 'SIGTERM']);
  }],

  ['spawn-args: args undefined or null still take the options', async (cp) => {
    for (const args of [undefined, null]) {
      const child = cp.spawn('pwd', args, { cwd: dir });
      assert.deepEqual(child.spawnargs, ['pwd']);
      const { stdout } = await result(child);
      assert.equal(stdout, `${dir}\n`);
    }
    const withArgs = cp.spawn('echo', ['a', 1, true], { cwd: dir });
    assert.deepEqual(withArgs.spawnargs, ['echo', 'a', 1, true]);
    assert.equal((await result(withArgs)).stdout, 'a 1 true\n');
  }],

  ['stdin: what is written to stdin comes back on stdout', async (cp) => {
    const child = cp.spawn('cat');
    assert.ok(child.stdin.writable);
    assert.ok(!child.stdout.writable || child.stdout.readable);
    child.stdin.write('hello');
    child.stdin.write(' ');
    child.stdin.end('world');
    const out = await result(child);
    assert.deepEqual(out, { code: 0, signal: null, stdout: 'hello world', stderr: '' });
  }],

  ['stdout-flush: every line of a long output arrives', async (cp) => {
    const child = cp.spawn(NODE, ['-e', 'for (let i = 0; i < 20000; i++) console.log("line " + i)']);
    const { code, stdout } = await result(child);
    assert.equal(code, 0);
    const lines = stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 20000);
    assert.equal(lines.at(-1), 'line 19999');
  }],

  ['stdout-flush-exit: output written right before exit is not lost', async (cp) => {
    const child = cp.spawn(NODE, ['-e', 'process.stdout.write("x".repeat(1 << 20), () => process.exit(0))']);
    const { code, stdout } = await result(child);
    assert.equal(code, 0);
    assert.equal(stdout.length, 1 << 20);
  }],

  ['kill: SIGTERM by default, killed set, streams end', async (cp) => {
    const child = cp.spawn('cat');
    let ended = false;
    child.stdout.on('end', () => {
      ended = true;
    });
    child.stdout.resume();
    const exit = once(child, 'exit');
    const close = once(child, 'close');
    await once(child, 'spawn');
    assert.equal(child.kill(), true);
    assert.equal(child.killed, true);
    assert.deepEqual(await exit, [null, 'SIGTERM']);
    await close;
    assert.equal(ended, true);
    assert.equal(child.signalCode, 'SIGTERM');
    assert.equal(child.exitCode, null);
  }],

  ['exit-code: the status, or the signal that ended it', async (cp) => {
    const code = cp.spawn(NODE, ['-e', 'process.exit(23)']);
    assert.deepEqual(await once(code, 'exit'), [23, null]);
    assert.equal(code.exitCode, 23);
    const signalled = cp.spawn('sh', ['-c', 'kill -TERM $$; sleep 5']);
    assert.deepEqual(await once(signalled, 'exit'), [null, 'SIGTERM']);
  }],

  ['env: own and inherited keys, undefined skipped', async (cp) => {
    const env = Object.setPrototypeOf({ HELLO: 'WORLD', UNDEFINED: undefined, NUMBER: 5 }, { FROM_PROTO: 'yes' });
    const { stdout } = await result(cp.spawn('/usr/bin/env', [], { env }));
    const vars = stdout.split('\n').filter(Boolean);
    assert.ok(vars.includes('HELLO=WORLD'), stdout);
    assert.ok(vars.includes('FROM_PROTO=yes'), stdout);
    assert.ok(vars.includes('NUMBER=5'), stdout);
    assert.ok(!vars.some((v) => v.startsWith('UNDEFINED=')), stdout);
  }],

  ['cwd: a directory, a file: URL, and ENOENT for a missing one', async (cp) => {
    assert.equal((await result(cp.spawn('pwd', { cwd: dir }))).stdout, `${dir}\n`);
    assert.equal((await result(cp.spawn('pwd', { cwd: pathToFileURL(dir) }))).stdout, `${dir}\n`);
    const missing = cp.spawn('pwd', { cwd: path.join(dir, 'does-not-exist') });
    const [error] = await once(missing, 'error');
    assert.equal(error.code, 'ENOENT');
    assert.equal(error.syscall, 'spawn pwd');
    assert.equal(error.path, 'pwd');
    await once(missing, 'close');
  }],

  ['default-options: without env the command gets process.env', async (cp) => {
    process.env.CODEX_SUITE_DEFAULT = 'inherited';
    try {
      const { stdout } = await result(cp.spawn('/usr/bin/env'));
      assert.ok(stdout.split('\n').includes('CODEX_SUITE_DEFAULT=inherited'), stdout);
    } finally {
      delete process.env.CODEX_SUITE_DEFAULT;
    }
  }],

  ['detached: the child leads a process group that outlives what spawned it', async (cp, { source }) => {
    const out = runScript(source, `
      const child = cp.spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
      child.unref();
      console.log(child.pid);`);
    assert.equal(out.status, 0, out.stderr);
    const pid = Number(out.stdout.trim());
    assert.ok(pid > 0, out.stdout);
    // The group survives its parent's exit; signalling the group ends it.
    await delay(100);
    process.kill(-pid, 0);
    process.kill(-pid, 'SIGKILL');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(-pid, 0);
      } catch (error) {
        assert.equal(error.code, 'ESRCH');
        return;
      }
      await delay(20);
    }
    assert.fail('the detached group did not end');
  }],

  ['double-pipe: grep | sed through data events', async (cp) => {
    const grep = cp.spawn('grep', ['o']);
    const sed = cp.spawn('sed', ['s/o/O/']);
    grep.stdout.on('data', (data) => sed.stdin.write(data));
    grep.stdout.on('end', () => sed.stdin.end());
    grep.stdin.write('hello\n');
    grep.stdin.write('nah\n');
    grep.stdin.end('world\n');
    const out = await result(sed);
    assert.equal(out.stdout, 'hellO\nwOrld\n');
    assert.equal(grep.exitCode ?? (await once(grep, 'exit'))[0], 0);
  }],

  ['stdio: ignore gives null streams, pipe gives streams, stdio mirrors them', async (cp) => {
    const ignored = cp.spawn('echo', { stdio: 'ignore' });
    assert.deepEqual([ignored.stdin, ignored.stdout, ignored.stderr], [null, null, null]);
    assert.equal(ignored.stdio.length, 3);
    await once(ignored, 'close');
    const mixed = cp.spawn('echo', ['x'], { stdio: ['pipe', 'ignore', 'pipe'] });
    assert.ok(mixed.stdin && mixed.stderr);
    assert.equal(mixed.stdout, null);
    assert.equal(mixed.stdio[0], mixed.stdin);
    assert.equal(mixed.stdio[2], mixed.stderr);
    mixed.stdin.end();
    mixed.stderr.resume();
    await once(mixed, 'close');
    const inherited = cp.spawn('true', { stdio: 'inherit' });
    assert.deepEqual(inherited.stdio, [null, null, null]);
    await once(inherited, 'close');
  }],

  ['stdio-inherit: a grandchild writes through the inherited stdout', async (cp, { source }) => {
    const out = runScript(source, `
      const child = cp.spawn('sh', ['-c', 'read x; echo "got $x"'], { stdio: 'inherit' });
      child.on('exit', (code) => process.exitCode = code);`, { shell: 'echo hello | "$0" "$1" "$2"' });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, 'got hello\n');
  }],

  ['flush-stdio: close comes without readers, and a readable reader gets everything', async (cp) => {
    const silent = cp.spawn('echo');
    silent.stdout.read();
    assert.deepEqual(await once(silent, 'close'), [0, null]);
    const chunks = [];
    const child = cp.spawn('echo', ['123']);
    child.stdout.on('readable', () => {
      let chunk;
      while ((chunk = child.stdout.read()) !== null) chunks.push(chunk);
    });
    await once(child, 'close');
    assert.equal(Buffer.concat(chunks).toString().trim(), '123');
  }],

  ['validate-stdio: bad stdio values and IPC misuse throw', async (cp) => {
    throwsLike(() => cp.spawn('echo', { stdio: 'foo' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    throwsLike(() => cp.spawn('echo', { stdio: ['pipe', 'pipe', {}] }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    throwsLike(() => cp.spawn('echo', { stdio: 42 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    throwsLike(() => cp.spawn('echo', { stdio: ['ipc', 'ipc'] }), { code: 'ERR_IPC_ONE_PIPE' });
    throwsLike(() => cp.spawnSync('echo', { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }), { code: 'ERR_IPC_SYNC_FORK' });
  }],

  ['pipe-dataflow: cat | wc with the first child\'s stdout as the second\'s stdin', async (cp) => {
    const file = path.join(dir, 'dataflow');
    fs.writeFileSync(file, 'x'.repeat(1024 * 1024));
    const cat = cp.spawn('cat', [file]);
    const wc = cp.spawn('wc', ['-c'], { stdio: [cat.stdout, 'pipe', 'pipe'] });
    const out = await result(wc);
    assert.deepEqual([out.code, out.stdout.trim()], [0, String(1024 * 1024)]);
    assert.deepEqual(cat.exitCode ?? (await once(cat, 'exit'))[0], 0);
  }],

  ['send-returns-boolean: send() over an IPC channel returns a boolean', async (cp) => {
    const child = cp.spawn(NODE, ['-e', 'process.once("message", () => process.disconnect())'], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    assert.equal(child.send('hello'), true);
    await once(child, 'exit');
    assert.equal(child.connected, false);
    const sent = await new Promise((resolve) => {
      const value = child.send('late', (error) => resolve([value, error?.code]));
    }).catch((e) => e);
    assert.deepEqual(sent, [false, 'ERR_IPC_CHANNEL_CLOSED']);
  }],

  ['ipc: messages both ways, internal cmd messages, disconnect', async (cp) => {
    const child = cp.spawn(NODE, ['-e', `
      process.on('message', (m) => {
        if (m === 'bye') return process.disconnect();
        process.send({ echo: m, pid: process.pid > 0 });
      });
      process.send({ hello: 'parent' });`], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] });
    assert.equal(child.connected, true);
    const [first] = await once(child, 'message');
    assert.deepEqual(first, { hello: 'parent' });
    child.send({ nested: [1, 'two', { three: null }] });
    const [second] = await once(child, 'message');
    assert.deepEqual(second, { echo: { nested: [1, 'two', { three: null }] }, pid: true });
    child.send('bye');
    await once(child, 'disconnect');
    assert.equal(child.connected, false);
    assert.deepEqual(await once(child, 'exit'), [0, null]);
  }],

  ['uid-gid: as root the ids are set; otherwise spawn throws EPERM', async (cp) => {
    if (process.getuid() !== 0) {
      throwsLike(() => cp.spawn('echo', ['x'], { uid: 0 }), { code: 'EPERM', syscall: 'spawn', errno: -errno.EPERM });
      throwsLike(() => cp.spawn('echo', ['x'], { gid: 0 }), { code: 'EPERM', syscall: 'spawn', errno: -errno.EPERM });
      return;
    }
    const out = await result(cp.spawn('/bin/sh', ['-c', 'echo $(id -u) $(id -g) $(id -G)'], { uid: 65534, gid: 65534 }));
    assert.deepEqual([out.code, out.stdout], [0, '65534 65534 65534\n'], out.stderr);
  }],

  ['reject-null-bytes: NUL in the file, args and options throws', async (cp) => {
    const nul = { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' };
    throwsLike(() => cp.spawn('echo\0'), nul);
    throwsLike(() => cp.spawn('echo', ['a\0b']), nul);
    throwsLike(() => cp.spawn('echo', [], { cwd: '/tmp\0' }), nul);
    throwsLike(() => cp.spawn('echo', [], { argv0: 'e\0' }), nul);
    throwsLike(() => cp.spawn('echo', [], { shell: '/bin/sh\0' }), nul);
    throwsLike(() => cp.spawn('echo', [], { env: { A: 'b\0' } }), nul);
    throwsLike(() => cp.spawn('echo', [], { env: { 'A\0': 'b' } }), nul);
  }],

  ['emfile: out of descriptors, spawn reports EMFILE', async (cp, { source }) => {
    const out = runScript(source, `
      const fs = require('node:fs');
      const held = [];
      for (;;) {
        try { held.push(fs.openSync('/dev/null', 'r')); } catch (error) { if (error.code !== 'EMFILE') throw error; break; }
      }
      const child = cp.spawn('echo', ['x']);
      child.on('error', (error) => { console.log(error.code); held.forEach((fd) => fs.closeSync(fd)); });
      child.on('exit', () => console.log('exit'));`, { shell: 'ulimit -n 64 && exec "$0" "$1" "$2"' });
    assert.equal(out.stdout, 'EMFILE\n', out.stderr);
  }],

  ['stdin-ipc: an IPC channel as stdin', async (cp) => {
    const child = cp.spawn(NODE, ['-e', 'process.send("from-child"); process.on("message", (m) => { console.log(m); process.disconnect(); })'], { stdio: ['ipc', 'pipe', 'inherit'] });
    const [message] = await once(child, 'message');
    assert.equal(message, 'from-child');
    child.send('back');
    const out = await result(child);
    assert.deepEqual([out.code, out.stdout], [0, 'back\n']);
  }],
];
