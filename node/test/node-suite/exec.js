'use strict';
// Node's tests of exec() (test/parallel/test-child-process-exec-*), as what each asserts.
const util = require('node:util');
const { assert, tempDir } = require('./common.js');

const dir = tempDir('codex-suite-exec-');
/** `{ error, stdout, stderr }` of exec(...). */
const run = (cp, ...args) => new Promise((resolve) => {
  cp.exec(...args, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
});

module.exports = [
  ['exec-error: a missing command exits 127 through the shell', async (cp) => {
    const { error, stdout, stderr } = await run(cp, 'codex-suite-no-such-command');
    assert.equal(error.code, 127);
    assert.equal(error.killed, false);
    assert.equal(error.signal, null);
    assert.equal(error.cmd, 'codex-suite-no-such-command');
    assert.equal(stdout, '');
    assert.match(stderr, /not found/);
  }],
  ['exec-stdout-stderr-data-string: both streams as strings', async (cp) => {
    assert.deepEqual(await run(cp, 'echo out; echo err >&2'), { error: null, stdout: 'out\n', stderr: 'err\n' });
  }],
  ['exec-maxbuf: output beyond maxBuffer kills and reports', async (cp) => {
    const { error, stdout } = await run(cp, 'printf %0100d 0; sleep 5', { maxBuffer: 10 });
    assert.equal(error.name, 'RangeError');
    assert.equal(error.code, 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
    assert.equal(stdout, '0'.repeat(10));
    const unlimited = await run(cp, 'printf %0100d 0', { maxBuffer: Infinity });
    assert.equal(unlimited.stdout.length, 100);
  }],
  ['exec-timeout: killed with SIGTERM after timeout', async (cp) => {
    const started = Date.now();
    const { error } = await run(cp, 'sleep 10', { timeout: 100 });
    assert.equal(error.killed, true);
    assert.equal(error.signal, 'SIGTERM');
    assert.equal(error.code, null);
    assert.ok(Date.now() - started < 5000);
  }],
  ['exec-env: the environment given', async (cp) => {
    assert.equal((await run(cp, 'echo $CODEX_SUITE_E', { env: { CODEX_SUITE_E: 'value' } })).stdout, 'value\n');
  }],
  ['exec-cwd: runs in cwd; a missing cwd fails', async (cp) => {
    assert.equal((await run(cp, 'pwd', { cwd: dir })).stdout, `${dir}\n`);
    const { error } = await run(cp, 'pwd', { cwd: `${dir}/missing` });
    assert.equal(error.code, 'ENOENT');
  }],
  ['exec-encoding: buffer and hex', async (cp) => {
    const raw = await run(cp, 'printf ab', { encoding: 'buffer' });
    assert.ok(Buffer.isBuffer(raw.stdout) && Buffer.isBuffer(raw.stderr));
    assert.equal(raw.stdout.toString(), 'ab');
    assert.equal((await run(cp, 'printf ab', { encoding: 'hex' })).stdout, '6162');
  }],
  ['exec-promisified: resolves with output, rejects with it, has .child', async (cp) => {
    const exec = util.promisify(cp.exec);
    const promise = exec('echo hi');
    assert.ok(promise.child instanceof require('node:child_process').ChildProcess);
    assert.deepEqual(await promise, { stdout: 'hi\n', stderr: '' });
    await assert.rejects(exec('echo o; echo e >&2; exit 3'), (error) => error.code === 3 && error.stdout === 'o\n' && error.stderr === 'e\n');
  }],
  ['exec-abortcontroller-promisified: abort rejects with AbortError', async (cp) => {
    const controller = new AbortController();
    const promise = util.promisify(cp.exec)('sleep 10', { signal: controller.signal });
    controller.abort();
    await assert.rejects(promise, { name: 'AbortError' });
    await assert.rejects(util.promisify(cp.exec)('echo x', { signal: AbortSignal.abort() }), { name: 'AbortError' });
  }],
  ['exec-shell: the shell option picks the shell', async (cp) => {
    assert.equal((await run(cp, 'echo $0', { shell: '/bin/sh' })).stdout, '/bin/sh\n');
    const child = cp.exec('true');
    assert.deepEqual(child.spawnargs, ['/bin/sh', '-c', 'true']);
    await new Promise((resolve) => child.on('close', resolve));
  }],
];
